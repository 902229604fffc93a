"""awd: train legged robots to move with style (AMP on MuJoCo / MuJoCo Warp)."""

import os
from pathlib import Path

# CPU OpenMP threads sleep instead of spinning while they wait: on a 2-core machine shared with 8 CPU-bound jobs an
# update epoch took 35-45 s spinning against 12-15 s sleeping (2.1 s and 1.7 s quiet; README "Shared machines").
# It takes effect when awd is imported before torch, as in every awd command.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
