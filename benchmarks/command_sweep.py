"""Command sweep: what a command policy (checkpoint or export folder) does at each command along one axis, the
others zero, on CPU MuJoCo: the velocity it reaches, its gain, falls, stride and double support.

    python benchmarks/command_sweep.py output/<run>/nn/G1Command.pth --axis lin_vel_y [--beyond 1.5] [--json s.json]

Logic: awd/style/sweep.py.
"""

from awd.style.sweep import main

if __name__ == "__main__":
    main()
