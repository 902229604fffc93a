"""A gait clock for the command tasks: a phase in [0, 1) that advances by one per `env.commands.gait_period_s`
(the clips' stride), which the policy observes as (sin 2 pi phase, cos 2 pi phase) and the reward term
`gait_contact` reads. The left foot's stance is the first `stance` share of the stride, the right foot's the same
share half a stride later; at the zero command both feet stand. Off (no observation, no state) when the period is 0.

A humanoid trained without a clock found no stride of its clips' 1.05 s: it stood, or stepped at 8 Hz
(docs/style_rounds.md, twelfth to fourteenth rounds). The clock gives the policy the clips' cadence to follow, as
the field's humanoid locomotion setups do.

The phase is frac(offset + steps since the episode started * control_dt / period). An env reset into a clip
(reference state init) starts at that clip's phase (its left foot touches down at phase 0); any other reset draws
the offset uniformly. Deployment starts at offset 0 (policy.json: commands.gait_period_s, and the `gait_phase`
observation part). The left/right mirror of a phase is the phase half a stride on: (-sin, -cos). With
`commands.gait_off_at_zero` the policy sees (0, 0) at the zero command (the clock runs on underneath): the running
clock led a G1 policy to march there, where the rewards ask it to stand.
"""

from __future__ import annotations

import math

import torch

from awd.errors import AwdError
from awd.tasks.observations import ObsTerm
from awd.tasks.rewards import TERMS, RewardInputs, RewardTerm

PHASE_RULE = ("phase = frac(steps since the policy started * control_dt / commands.gait_period_s); "
              "observed as (sin 2 pi phase, cos 2 pi phase)")
STAND_COMMAND = 1e-3  # a command of norm below this is the zero command
OFF_AT_ZERO_RULE = f"; (0, 0) while |command| < {STAND_COMMAND} (commands.gait_off_at_zero)"


class GaitClock:
    """Per-env phase offsets of one task; the phase itself follows the task's step counter (`progress`)."""

    state_attributes = ("offset",)

    def __init__(self, period_s: float, control_dt: float, draws, num_envs: int, device, dtype, motion_lib=None):
        self.period_s, self.steps_per_period = period_s, period_s / control_dt
        self.draws = draws
        self.offset = torch.zeros(num_envs, device=device, dtype=dtype)
        self.touchdown = None if motion_lib is None else left_touchdowns(
            motion_lib, torch.arange(motion_lib.num_clips, device=motion_lib.device), period_s, control_dt).to(device)

    def reset(self, mask: torch.Tensor, from_clip: torch.Tensor, sampled) -> None:
        """New offsets where `mask`: the clip's phase where the env starts `from_clip` (`sampled`: the reset's
        (clip ids, times), or None), else drawn."""
        offset = self.draws.rand(mask.shape[0])
        if sampled is not None and self.touchdown is not None:
            in_clip = self.clip_offsets(*(t.to(self.offset.device) for t in sampled)).to(offset.dtype)
            offset = torch.where(from_clip, in_clip, offset)
        self.offset = torch.where(mask, offset, self.offset)

    def clip_offsets(self, clip_ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """(n,) float64: the offsets that put envs at `times` of clips `clip_ids` in the clips' phase."""
        return torch.remainder((times - self.touchdown[clip_ids]) / self.period_s, 1.0)

    def phase(self, progress: torch.Tensor) -> torch.Tensor:
        """(N,) in [0, 1) after `progress` steps of the episode."""
        return torch.frac(self.offset + progress.to(self.offset.dtype) / self.steps_per_period)


def encode(phase: torch.Tensor) -> torch.Tensor:
    angle = 2.0 * math.pi * phase
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)


def phase_observation(off_at_zero: bool) -> ObsTerm:
    """The clock as the policy sees it; `off_at_zero`: (0, 0) at the zero command, where the running clock led a G1
    policy to march in place (nineteenth round in docs/style_rounds.md)."""
    def read(task, matrix):
        observed = encode(task.gait_clock.phase(task.progress))
        if off_at_zero:
            observed = observed * (task.commands.norm(dim=-1, keepdim=True) >= STAND_COMMAND)
        return observed

    rule = PHASE_RULE + (OFF_AT_ZERO_RULE if off_at_zero else "")
    return ObsTerm("gait_phase", 2, read, ("sin", "cos"), f"the gait clock: {rule}", mirror=(-1.0, -1.0))


def left_touchdowns(motion_lib, clip_ids: torch.Tensor, period_s: float, dt: float) -> torch.Tensor:
    """(n,) float64 seconds: when each clip's left foot first touches down in its first `period_s` (0 if never)."""
    times = torch.arange(0.0, period_s, dt, dtype=torch.float64, device=motion_lib.device)
    rows = clip_ids.repeat_interleave(len(times))
    contacts = motion_lib.get_state(rows, times.repeat(len(clip_ids))).foot_contacts[:, 0] > 0.5
    left = contacts.view(len(clip_ids), len(times))
    return times[(left & ~left.roll(1, dims=1)).to(torch.uint8).argmax(dim=1)]


def expected_stance(phase: torch.Tensor, stance: float, standing: torch.Tensor) -> torch.Tensor:
    """(N, 2) bool: the left and right foot should touch the floor at `phase` (both where `standing`)."""
    legs = torch.stack([phase, torch.frac(phase + 0.5)], dim=-1)
    return (legs < stance) | standing.unsqueeze(-1)


def gait_contact(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """The share of the two feet whose floor contact is what the clock expects (0, 0.5 or 1)."""
    task = inputs.task
    standing = inputs.commands.norm(dim=-1) < p["threshold"]
    expected = expected_stance(task.gait_clock.phase(task.progress), p["stance"], standing)
    return (task.engine.foot_contacts.bool() == expected).to(inputs.root_height.dtype).mean(dim=-1)


def swing_progress(phase: torch.Tensor, stance: float) -> torch.Tensor:
    """(N, 2): how far the left and right foot are through their swing of the clock, 0 at lift-off and 1 at
    touchdown (negative in stance)."""
    legs = torch.stack([phase, torch.frac(phase + 0.5)], dim=-1)
    return (legs - stance) / (1.0 - stance)


def gait_swing_height(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """The mean over the feet of max(0, 1 - |h - h*| / target) for each foot the clock has in its swing and off the
    floor, h its height above its last stance and h* the target (arc 0) or target * sin(pi * swing progress) (arc 1:
    the foot rises and falls as a clip's does; a foot left on the floor, near h* at the swing's ends, earned a
    standing robot 0.81 per step at weight 5, nineteenth round); 0 at the zero command. Paid per step of the clock's
    swing rather than per touchdown (as `feet_swing_height` pays), so more touchdowns do not pay more: the G1
    stepped at 8 Hz; and a foot above h* earns less, so lifting higher does not pay either (docs/style_rounds.md,
    fifteenth round)."""
    task = inputs.task
    phase = task.gait_clock.phase(task.progress)
    standing = inputs.commands.norm(dim=-1) < p["threshold"]
    swing = ~expected_stance(phase, p["stance"], standing) & ~task.engine.foot_contacts.bool()
    wanted = p["target"] * torch.sin(math.pi * swing_progress(phase, p["stance"]).clamp(0.0, 1.0)) if p["arc"] \
        else p["target"]
    height = inputs.feet_height.nan_to_num(posinf=0.0)
    lift = (1.0 - (height - wanted).abs() / p["target"]).clamp(min=0.0)
    return (lift * swing).mean(dim=-1)


def require_clock(name: str):
    """The prepare step of a term that reads the clock (the config checks the period and the stance share): a task
    without commands has no clock."""
    def prepare(task, p: dict) -> None:
        if getattr(task, "gait_clock", None) is None:
            raise AwdError(task.cfg.source, f"env.rewards.{name}",
                           f"reads the gait clock, which {task.task_name} does not have (a command task has one)")
    return prepare


TERMS["gait_contact"] = RewardTerm(gait_contact, {"stance": 0.55, "threshold": STAND_COMMAND}, ("stance", "threshold"),
                                   prepare=require_clock("gait_contact"))
TERMS["gait_swing_height"] = RewardTerm(gait_swing_height, {"target": 0.05, "stance": 0.55, "arc": 0.0,
                                                            "threshold": STAND_COMMAND},
                                        ("target", "threshold"), prepare=require_clock("gait_swing_height"))
