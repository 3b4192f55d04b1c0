"""The DVC stage entry points, each run as ``python -m stages.<name>`` from the repository
root (``dvc.yaml`` says how).

They run the library of their own checkout (``src/digitwise``), not whichever digitwise
happens to be installed: DVC hashes this checkout's files as the stages' deps, and runs
queued experiments in copies of the workspace, whose code must be the code that runs.
"""

import sys
from pathlib import Path

_LIBRARY = str(Path(__file__).resolve().parents[1] / "src")
if sys.path[:1] != [_LIBRARY]:
    sys.path.insert(0, _LIBRARY)
