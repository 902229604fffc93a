"""Command exposure: how often training asks for each clip's command (logic: awd/style/command_exposure.py).

    python benchmarks/command_exposure.py --task G1Command [env.commands.single_axis_prob=0.3 ...] [--json out.json]
"""

from awd.style.command_exposure import main

if __name__ == "__main__":
    main()
