#!/usr/bin/env python
"""Export a checkpoint's policy for deployment (awd.export): `python tools/export.py CHECKPOINT [-o DIR] [--raw]`
writes policy.onnx, policy.pt (normaliser baked in) and policy.json into one folder. Exit code 2 on bad input."""

import sys
from pathlib import Path

try:
    import awd  # noqa: F401
except ImportError:  # awd not installed: use the repository this script belongs to
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from awd.export import main  # noqa: E402

if __name__ == "__main__":
    main()
