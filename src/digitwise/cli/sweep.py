"""``digitwise sweep``: a grid of experiments declared once, in ``sweep.yaml``.

  matrix            the grid as the JSON of a GitHub Actions matrix (one job per experiment)
  run NAME          run one experiment: ``dvc exp run --temp --name NAME -S ...``, and
                    check that it recorded ``refs/exps/<HEAD>/NAME``
  collect --out D   the experiments of a commit (local, or fetched with
                    ``dvc exp pull origin``) in one Markdown table: params changed,
                    headline metrics with 95% intervals, and McNemar against that commit
                    or another (``--against origin/main``)

Each experiment is a name and the params.yaml keys it sets; ``run`` leaves the workspace
as it was, so experiments run one after another stay apart."""

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from digitwise import params
from digitwise.cli import add_params_option
from digitwise.cli import settings as settings_of
from digitwise.cli.names import SWEEP_OUTPUTS
from digitwise.errors import UserError
from digitwise.io import outputs
from digitwise.sweep import collect, grid

GRID = "sweep.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, summary in (("matrix", "print the matrix JSON"), ("run", "run one experiment")):
        action = actions.add_parser(name, help=summary, description=summary)
        action.add_argument("--grid", default=GRID, help=f"the sweep file (default {GRID})")
        action.add_argument(
            "--params-file", default="params.yaml", help="the params file its keys are of"
        )
        if name == "run":
            action.add_argument("name", help="the experiment, as sweep.yaml names it")
            action.add_argument(
                "targets", nargs="*", help="stages to run up to (default: the whole pipeline)"
            )
    table = actions.add_parser(
        "collect",
        help="the comparison table",
        description="the comparison table of a baseline commit's experiments",
    )
    table.add_argument(
        "--baseline", default="HEAD", help="the commit the experiments ran on (default HEAD)"
    )
    table.add_argument("--against", help="the commit to compare them with (default --baseline)")
    table.add_argument(
        "--out", required=True, help=f"directory to write {', '.join(SWEEP_OUTPUTS.values())} in"
    )
    add_params_option(table, "evaluate", params.EVALUATE_DEFAULTS)


def command(args: argparse.Namespace) -> None:
    if args.action == "collect":
        run_collect(args)
        return
    experiments = grid.load_grid(args.grid, args.params_file)
    if args.action == "matrix":
        print(json.dumps(grid.matrix(experiments), separators=(",", ":")))
        return
    experiment = grid.find(experiments, args.name, args.grid)
    root = collect.repository_root(Path.cwd())
    if collect.is_shallow(root):  # dvc exp run would run, exit 0 and record nothing
        raise UserError(
            f"{root}: a shallow clone, where dvc exp run records no experiment; fetch the "
            "history first (git fetch --unshallow, or fetch-depth: 0 in actions/checkout)"
        )
    head = collect.resolve(root, "HEAD")
    before = collect.experiment_commit(root, head, experiment.name)
    dvc, *rest = grid.exp_run_command(experiment, tuple(args.targets))
    print(f"$ {shlex.join([dvc, *rest])}", flush=True)
    returncode = subprocess.run([sys.executable, "-m", "dvc", *rest], check=False).returncode
    if returncode:
        raise SystemExit(returncode)
    if collect.experiment_commit(root, head, experiment.name) in (None, before):
        raise UserError(
            f"dvc exp run recorded no experiment {experiment.name!r} of {head.commit[:12]} "
            f"(no new refs/exps/.../{experiment.name})"
        )


def run_collect(args: argparse.Namespace) -> None:
    settings = settings_of(args.params, params.evaluate_params, params.EVALUATE_DEFAULTS)
    destinations = {name: Path(args.out) / file for name, file in SWEEP_OUTPUTS.items()}
    outputs.check_destinations(*destinations.values(), inputs=[args.params])
    root = collect.repository_root(Path.cwd())
    baseline = collect.resolve(root, args.baseline)
    against = collect.resolve(root, args.against) if args.against else None
    bootstrap = {"n_resamples": settings.bootstrap_resamples, "seed": settings.bootstrap_seed}
    collected = collect.collect(root, baseline, against=against, **bootstrap)
    table = collect.table_markdown(collected)
    outputs.write_all(
        {destinations["table"]: table, destinations["collected"]: outputs.json_text(collected)}
    )
    print(table, end="")
