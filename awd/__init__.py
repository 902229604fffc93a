"""awd: train legged robots to move with style (AMP on MuJoCo / MuJoCo Warp)."""

import os
import sys
from pathlib import Path

# CPU OpenMP threads sleep instead of spinning while they wait: on a 2-core machine shared with 8 CPU-bound jobs an
# update epoch took 35-45 s spinning against 12-15 s sleeping (2.1 s and 1.7 s quiet; README "Shared machines").
# It takes effect when awd is imported before torch, as in every awd command.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"

GL_PACKAGES = {"osmesa": "libosmesa6", "egl": "libegl1"}  # Debian / Ubuntu packages of MuJoCo's offscreen backends


def _check_mujoco_gl() -> None:
    """With MUJOCO_GL set, `import mujoco` loads that OpenGL backend and fails with a long traceback when its
    library is missing; say so in one line instead (exit code 2)."""
    backend = os.environ.get("MUJOCO_GL")
    if not backend:
        return
    try:
        import mujoco  # noqa: F401
    except Exception as error:  # PyOpenGL raises AttributeError, ImportError or its own errors here
        package = GL_PACKAGES.get(backend.lower())
        hint = f"install its library (Debian/Ubuntu: apt install {package})" if package else "check its name"
        print(f"error: MUJOCO_GL={backend}: mujoco cannot load this OpenGL backend ({type(error).__name__}: {error}); "
              f"{hint}, or unset MUJOCO_GL (only playback videos need a backend)", file=sys.stderr)
        sys.exit(2)


_check_mujoco_gl()
