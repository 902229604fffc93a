"""The `awd` command (installed by pip): one subcommand per entry point, tool and benchmark, each taking the flags
of the script it stands for (`awd SUBCOMMAND --help`):

    awd train --task DucklingCommand ...     python awd/run.py --task DucklingCommand ...
    awd play --checkpoint X ...              python awd/run.py --test --checkpoint X ...
    awd export CHECKPOINT [-o DIR]           python tools/export.py ...
    awd eval CHECKPOINT ...                  python tools/evaluate.py ...
    awd style POLICY ...                     python benchmarks/style.py ...
    awd perform TRACKER -o DIR ...           python -m awd.style.perform ... (clips performed in physics)
    awd gait -n 10 ...                       python gait_gen/auto_gait_generator.py ...
    awd plot | import-csv | sim2sim | make-g1 | mjcf-to-urdf | check-warp | robot-setup ...   python tools/<name>.py ...
    awd bench NAME ...                       python benchmarks/NAME.py ...

The tools and benchmarks are scripts of the source checkout (`pip install -e .`, as the README installs awd).
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path

from awd.errors import AwdError, exit_on_error

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_COMMANDS = {  # subcommand: (module, leading arguments)
    "train": ("awd.run", ()),
    "play": ("awd.run", ("--test",)),
    "export": ("awd.export", ()),
    "eval": ("awd.evaluate", ()),
    "style": ("awd.style.judge", ()),
    "perform": ("awd.style.perform", ()),
    "gait": ("awd.gait.cli", ()),
}
TOOLS = {"plot": "plot_clip", "import-csv": "import_csv", "sim2sim": "sim2sim", "make-g1": "make_g1",
         "mjcf-to-urdf": "mjcf_to_urdf", "check-warp": "check_warp_engine", "robot-setup": "robot_setup"}


def benchmarks() -> list[str]:
    return sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py"))


def usage() -> str:
    return (__doc__.split("\n\n")[1] + "\n\nbenchmarks: " + (", ".join(benchmarks()) or "none (no source checkout)"))


def script(folder: str, name: str) -> Path:
    path = ROOT / folder / f"{name}.py"
    if not path.is_file():
        raise AwdError(path, None, "this command runs a script of the source checkout; install awd with "
                       "`pip install -e .` from a clone of the repository")
    return path


def run_script(path: Path, name: str, arguments: list[str]) -> None:
    sys.argv = [f"awd {name}", *arguments]
    runpy.run_path(str(path), run_name="__main__")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    name, arguments = argv[0], argv[1:]
    saved = sys.argv
    try:
        run(name, arguments)
    finally:
        sys.argv = saved


def run(name: str, arguments: list[str]) -> None:
    with exit_on_error():
        if name in PACKAGE_COMMANDS:
            module, leading = PACKAGE_COMMANDS[name]
            sys.argv = [f"awd {name}", *leading, *arguments]
            importlib.import_module(module).main([*leading, *arguments])
        elif name in TOOLS:
            run_script(script("tools", TOOLS[name]), name, arguments)
        elif name == "bench":
            if not arguments or arguments[0] not in benchmarks():
                raise AwdError(None, "bench", f"expected a benchmark name, one of {benchmarks()}; got "
                               f"{arguments[0] if arguments else 'none'!r}")
            run_script(script("benchmarks", arguments[0]), f"bench {arguments[0]}", arguments[1:])
        else:
            raise AwdError(None, "subcommand", f"unknown {name!r}; expected one of "
                           f"{[*PACKAGE_COMMANDS, *TOOLS, 'bench']} (awd --help)")


if __name__ == "__main__":
    main()
