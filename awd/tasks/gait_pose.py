"""A reward term that reads the gait clock: the joints the clips move follow, at the clock's phase, the clip that
walks nearest the command (reward term `gait_pose`, weighted in the task's YAML like any other).

When the task is made, each clip that walks is sampled over one stride of the clock's period, from a left
touchdown (phase 0, as `awd.tasks.gait_clock` puts envs that start from a clip) in the middle of the clip, away
from its start; a clip that never lifts a foot (standing) is the reference of the zero command; clips that step at
a velocity the command sampler zeroes (`in_place`) are left out. The nearest clip is the one whose mean velocity
(vx, vy in the heading frame, yaw rate), in units of the clips' spread over the clips, is closest to the command,
at a distance d in those units. Each step, the reward is 1 - w (1 - exp(-e / std^2)): e the mean over the moved
joints (all but `env.amp.exclude_joints`, which `held_joints` holds) of the squared distance to that clip's pose
at the clock's phase (interpolated between the two nearest samples), and w = exp(-d^2 / radius^2) how much the
clip speaks for the command. With `per_joint` 1 each joint's distance counts in units of its spread over the
clips' strides (times the joints' RMS spread, so that e keeps its scale): a hip roll that swings 0.07 rad weighs
as much as a knee that swings 0.17, where in radians the knees and hip pitches decide e (the G1's sidestep fell
short by its trailing hip and ankle roll, docs/style_rounds.md, 28th round). The command sampler draws each axis
on its own, so most commands combine walking, sidestepping and turning as no clip does (the G1's: 84 % lie more
than 0.5 spreads from every clip); there the term pays about 1 whatever the pose and leaves the style to the
discriminator, rather than ask a forward walk that turns to step like a turn on the spot. The zero command asks
for the standing clip, at w 1.

This is the field's other way to style (Open Duck Playground's imitation reward on a phase-indexed reference
gait), here over any clips without a table keyed by exact commands. Where the discriminator scores a window with no
command, this term asks for each command's own clip: the G1 swung its arms when walking sideways, as its forward
clips do and its sideways clips do not (docs/style_rounds.md, twenty-first round).
"""

from __future__ import annotations

import math

import torch

from awd.errors import AwdError
from awd.tasks.gait_clock import STAND_COMMAND, require_clock
from awd.tasks.motion_match import MIN_SPREAD, zeroed
from awd.tasks.rewards import TERMS, RewardInputs, RewardTerm
from awd.tasks.tracking import stride_velocity

STRIDE_TOLERANCE = 0.1  # share of the clock's period a walking clip's stride may differ by
MIN_JOINT_SPREAD = 0.01  # rad: a moved joint the clips barely swing weighs as one swinging this much (per_joint)


class GaitPoses:
    """Each walking clip's joint positions over one stride of the clock (C, S, n) and its mean velocity (C, 3)."""

    def __init__(self, task, samples: int):
        lib = task.motion_lib
        phases = torch.arange(samples, dtype=torch.float64, device=lib.device) / samples
        poses, velocities, standing = [], [], None
        for clip in range(lib.num_clips):
            whole = lib.get_state(*lib.time_grid(clip, task.dt))
            velocity = stride_velocity(whole)
            ids = torch.full((samples,), clip, dtype=torch.long, device=lib.device)
            stride = lib.get_state(ids, self._stride_times(task.gait_clock, float(lib.lengths[clip]), clip, phases))
            if not zeroed(velocity, task.cfg.commands):
                _check_stride(task, clip, whole)
                poses.append(stride.joint_pos)
                velocities.append(velocity)
            elif not bool((whole.foot_contacts < 0.5).any()):
                standing = stride.joint_pos.mean(dim=0)
        if not poses:
            raise AwdError(task.cfg.source, "env.rewards.gait_pose",
                           "no clip walks at a velocity the command sampler asks for: there is no stride to follow")
        velocity = torch.stack(velocities)
        self.poses = torch.stack(poses).to(task.device, task.dtype)
        self.scale = spread_scale(velocity).to(task.device, task.dtype)
        self.velocities = velocity.to(task.device, task.dtype) * self.scale
        default = task.default_joint_pos if standing is None else standing
        self.standing = default.to(task.device, task.dtype)
        self.moved = torch.nonzero(~task.held_joints).squeeze(-1).to(task.device)  # indices: no mask in a graph
        moved = self.poses.index_select(-1, self.moved)
        spread = moved.reshape(-1, moved.shape[-1]).std(dim=0).clamp_min(MIN_JOINT_SPREAD)
        self.joint_weights = spread.pow(2).mean().sqrt() / spread

    @staticmethod
    def _stride_times(clock, length: float, clip: int, phases: torch.Tensor) -> torch.Tensor:
        """Clip times of `phases` in the middle whole stride after the clip's first left touchdown."""
        first = float(clock.touchdown[clip])
        strides = max(int((length - first) // clock.period_s), 1)
        start = first + (strides // 2) * clock.period_s
        return (start + phases * clock.period_s).clamp(max=length)

    def reference(self, commands: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, n) the nearest clip's pose at `phase`, or the standing pose at the zero command, and (N,) the squared
        distance of the command to that clip's velocity in spreads (0 at the zero command)."""
        distance, nearest = nearest_clip(commands, self.velocities, self.scale)
        samples = self.poses.shape[1]
        position = phase.to(self.poses.dtype) * samples
        below = position.floor().long().clamp(0, samples - 1)
        weight = (position - below).unsqueeze(-1)
        pose = torch.lerp(self.poses[nearest, below], self.poses[nearest, (below + 1) % samples], weight)
        standing = commands.norm(dim=-1, keepdim=True) < STAND_COMMAND
        return torch.where(standing, self.standing, pose), distance * ~standing.squeeze(-1)


def spread_scale(velocities: torch.Tensor) -> torch.Tensor:
    """(3,) 1 / the spread of the clips' mean velocities (C, 3) on each axis: distances between commands count in it."""
    return 1.0 / velocities.std(dim=0).nan_to_num(0.0).clamp_min(MIN_SPREAD)


def nearest_clip(commands: torch.Tensor, scaled: torch.Tensor,
                 scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) the squared distance of each command to the nearest of the clips' velocities `scaled` (C, 3, already
    times `scale`), in spreads, and (N,) that clip's row."""
    offsets = (commands * scale).unsqueeze(1) - scaled
    return (offsets * offsets).sum(dim=-1).min(dim=-1)


def _check_stride(task, clip: int, whole) -> None:
    """A walking clip must stride at the clock's period (its left touchdowns one period apart, within
    `STRIDE_TOLERANCE`), or its poses would be read at the wrong phases."""
    left = whole.foot_contacts[:, 0] > 0.5
    touchdowns = torch.nonzero(left[1:] & ~left[:-1]).squeeze(-1).double() * task.dt
    period = task.cfg.commands.gait_period_s
    stride = float(touchdowns.diff().median()) if len(touchdowns) > 1 else period
    if abs(stride - period) > STRIDE_TOLERANCE * period:
        raise AwdError(task.cfg.source, "env.commands.gait_period_s", f"gait_pose follows the clips at the clock's "
                       f"period ({period} s), but clip {clip} of {task.cfg.motion_file} strides every {stride:.3f} s")


def gait_pose(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """1 - w (1 - exp(-e / std^2)): e the mean squared distance of the moved joints to the nearest clip's pose at the
    clock's phase (per_joint: in units of each joint's spread), w = exp(-d^2 / radius^2) for the command's distance d
    to that clip's velocity (in spreads)."""
    task = inputs.task
    poses = task.gait_poses
    reference, distance = poses.reference(inputs.commands, task.gait_clock.phase(task.progress))
    error = (inputs.joint_pos - reference).index_select(1, poses.moved)
    if p["per_joint"]:
        error = error * poses.joint_weights
    near = torch.exp(-distance / p["radius"] ** 2)
    return 1.0 - near * (1.0 - torch.exp(-(error * error).mean(dim=-1) / p["std"] ** 2))


def build_poses(task, p: dict) -> None:
    require_clock("gait_pose")(task, p)
    task.gait_poses = GaitPoses(task, max(int(math.ceil(task.gait_clock.steps_per_period)), 2))


TERMS["gait_pose"] = RewardTerm(gait_pose, {"std": 0.1, "radius": 0.5, "per_joint": 0.0}, ("std", "radius"),
                                needs_clips=True, prepare=build_poses)
