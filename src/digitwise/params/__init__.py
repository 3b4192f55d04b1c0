"""``params.yaml``: read once, each section turned into typed, validated values.

``sections`` holds the sections (one dataclass and one reader each); ``validators`` the
checks of single values they are built from. Everything a stage needs is here:
``params.load(path)``, then ``params.<section>_params(raw)``.
"""

from digitwise.params.sections import (
    DATA_SOURCES,
    EVALUATE_DEFAULTS,
    GATE_DEFAULTS,
    SECTIONS,
    SPLIT_METHODS,
    AttributionParams,
    DataParams,
    EvaluateParams,
    ExamplesParams,
    GateParams,
    SeparabilityParams,
    SplitParams,
    StepsParams,
    TrainParams,
    attribution_params,
    data_params,
    evaluate_params,
    examples_params,
    gate_params,
    load,
    separability_params,
    split_params,
    steps_params,
    train_params,
)
from digitwise.params.validators import ParamsError, Validator

__all__ = [
    "DATA_SOURCES",
    "EVALUATE_DEFAULTS",
    "GATE_DEFAULTS",
    "SECTIONS",
    "SPLIT_METHODS",
    "AttributionParams",
    "DataParams",
    "EvaluateParams",
    "ExamplesParams",
    "GateParams",
    "ParamsError",
    "SeparabilityParams",
    "SplitParams",
    "StepsParams",
    "TrainParams",
    "Validator",
    "attribution_params",
    "data_params",
    "evaluate_params",
    "examples_params",
    "gate_params",
    "load",
    "separability_params",
    "split_params",
    "steps_params",
    "train_params",
]
