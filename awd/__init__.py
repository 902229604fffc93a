"""awd: train legged robots to move with style (AMP on MuJoCo / MuJoCo Warp)."""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
