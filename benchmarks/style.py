"""Style benchmark: a command policy (checkpoint or export folder) at every judged clip's velocity and at the
command extremes on CPU MuJoCo, compared with its clips; prints the tables and the style verdict.

    python benchmarks/style.py output/<run>/nn/DucklingCommand.pth [--json style.json]
    python benchmarks/style.py output/<run>/nn/DucklingCommand_export [--motion_file my_clips]

Logic and metrics: awd/style/judge.py.
"""

from awd.style.judge import main

if __name__ == "__main__":
    main()
