#!/usr/bin/env python
"""Measure survival and velocity tracking of a DucklingCommand or G1Command checkpoint and print a table
(awd.evaluate):
`python tools/evaluate.py output/<run>/nn/DucklingCommand.pth [--engine mujoco] [--num_envs 64] [--json r.json]`.
Exit code 0 whether the policy passes or not; 2 on bad input."""

import sys
from pathlib import Path

try:
    import awd  # noqa: F401
except ImportError:  # awd not installed: use the repository this script belongs to
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from awd.evaluate import main  # noqa: E402

if __name__ == "__main__":
    main()
