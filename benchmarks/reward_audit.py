"""Reward audit: which gait does a command task's reward pay most? At every judged clip's command, the task's
reward terms for the clip's own gait (played kinematically), the standing clip and, given one, a policy; prints
the tables (logic: awd/style/reward_audit.py).

    python benchmarks/reward_audit.py --task G1Command [env.rewards.feet_air_time.weight=1 ...]
    python benchmarks/reward_audit.py --policy output/<run>/nn/G1Command.pth [--json audit.json]
    python benchmarks/reward_audit.py --policy best_style.pth --extremes   # at each command extreme
"""

from awd.style.reward_audit import main

if __name__ == "__main__":
    main()
