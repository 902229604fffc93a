#!/usr/bin/env python
"""Generate walking reference clips with Placo: `python gait_gen/auto_gait_generator.py -n 10 -o DIR`.
Thin wrapper: the logic lives in awd.gait (see docs/gait_generator.md). Works from any working directory."""

import sys
from pathlib import Path

try:
    from awd.gait.cli import main
except ImportError:  # awd not installed: use the repository this script belongs to
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from awd.gait.cli import main

if __name__ == "__main__":
    sys.exit(main())
