"""AMP features (the discriminator input), derived from the robot spec. One function, `amp_frame`, maps a
root/joint/feet state to one feature frame; it is used for policy rollouts (engine state, `frame_from_engine`)
and for demo windows (MotionState, `frame_from_motion`), so both sides see exactly the same computation.

Per frame, in order: root height (1), root rotation with the heading removed as tangent/normal (6), root
linear and angular velocity in the heading frame (3 + 3), joint positions and velocities of the style joints
(all joints but `amp.exclude_joints`; joints the clips do not move, like a duck's head, would only let the
discriminator win on noise), key-body
(feet) positions relative to the root in the heading frame (3 per foot), optional foot contacts (2).
A window holds K frames stacked newest first and flattened: (N, K * frame_size).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from awd.errors import AwdError
from awd.utils.rotations import heading_quat_inverse, quat_mul, quat_rotate, quat_to_tan_norm


@dataclass(frozen=True)
class AmpLayout:
    """Named layout of one AMP frame and the window length."""

    joint_indices: tuple[int, ...]
    joint_names: tuple[str, ...]
    foot_bodies: tuple[str, ...]
    num_steps: int
    foot_contacts: bool = False
    root_height: bool = True

    @property
    def parts(self) -> list[tuple[str, int]]:
        parts = [("root_height", 1), ("root_rot_tan_norm", 6), ("root_lin_vel_heading", 3),
                 ("root_ang_vel_heading", 3), ("joint_pos", len(self.joint_indices)),
                 ("joint_vel", len(self.joint_indices)),
                 ("key_body_pos_heading", 3 * len(self.foot_bodies))]
        if self.foot_contacts:
            parts.append(("foot_contacts", 2))
        return parts

    @property
    def frame_size(self) -> int:
        return sum(size for _, size in self.parts)

    @property
    def window_size(self) -> int:
        return self.frame_size * self.num_steps


def make_amp_layout(spec, amp_cfg, source: str | None = None) -> AmpLayout:
    """The AMP layout for a RobotSpec and an AmpConfig (the key bodies are the spec's feet)."""
    unknown = [name for name in amp_cfg.exclude_joints if name not in spec.joint_names]
    if unknown:
        raise AwdError(source, "env.amp.exclude_joints", f"unknown joint(s) {unknown}; expected names from {list(spec.joint_names)}")
    kept = [i for i, name in enumerate(spec.joint_names) if name not in amp_cfg.exclude_joints]
    return AmpLayout(joint_indices=tuple(kept), joint_names=tuple(spec.joint_names[i] for i in kept),
                     foot_bodies=tuple(spec.foot_bodies), num_steps=amp_cfg.num_steps,
                     foot_contacts=amp_cfg.foot_contacts, root_height=amp_cfg.root_height)


def amp_frame(layout: AmpLayout, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel,
              foot_pos, foot_contacts) -> torch.Tensor:
    """One feature frame per leading index. Shapes (..., 3), (..., 4) xyzw, (..., 3), (..., 3), (..., n),
    (..., n), (..., 2, 3) world, (..., 2); returns (..., frame_size)."""
    heading_inv = heading_quat_inverse(root_quat)
    height = root_pos[..., 2:3] if layout.root_height else torch.zeros_like(root_pos[..., 2:3])
    local_rot = quat_to_tan_norm(quat_mul(heading_inv, root_quat))
    lin_vel = quat_rotate(heading_inv, root_lin_vel)
    ang_vel = quat_rotate(heading_inv, root_ang_vel)
    rel_feet = foot_pos - root_pos.unsqueeze(-2)
    feet = quat_rotate(heading_inv.unsqueeze(-2).expand(*rel_feet.shape[:-1], 4), rel_feet)
    joints = _index_tensor(layout.joint_indices, joint_pos.device)
    parts = [height, local_rot, lin_vel, ang_vel, joint_pos.index_select(-1, joints),
             joint_vel.index_select(-1, joints), feet.flatten(-2)]
    if layout.foot_contacts:
        parts.append(foot_contacts.to(root_pos.dtype))
    return torch.cat(parts, dim=-1)


@functools.lru_cache(maxsize=None)
def _index_tensor(indices: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """`indices` as a long tensor on `device`, made once (indexing with a Python list would copy it to the
    device, and wait for it, on every call)."""
    return torch.tensor(indices, dtype=torch.long, device=device)


def frame_from_motion(layout: AmpLayout, state) -> torch.Tensor:
    """Feature frames of a MotionState (any leading shape)."""
    return amp_frame(layout, state.root_pos, state.root_quat, state.root_lin_vel, state.root_ang_vel,
                     state.joint_pos, state.joint_vel, state.foot_pos, state.foot_contacts)


def frame_from_engine(layout: AmpLayout, engine, foot_indices) -> torch.Tensor:
    """Feature frames (N, frame_size) of the engine's current state; `foot_indices` index engine.body_pos."""
    foot_pos = engine.body_pos[:, foot_indices]
    return amp_frame(layout, engine.root_pos, engine.root_quat, engine.root_lin_vel, engine.root_ang_vel,
                     engine.joint_pos, engine.joint_vel, foot_pos, engine.foot_contacts)


def window_from_motion(layout: AmpLayout, motion_lib, clip_ids, times, dt: float) -> torch.Tensor:
    """(n, K, frame_size) frames at t, t - dt, ..., newest first."""
    states = motion_lib.get_window_states(clip_ids, times, layout.num_steps, dt)
    return frame_from_motion(layout, states)


def flatten_window(window: torch.Tensor) -> torch.Tensor:
    """(N, K, F) newest first -> (N, K * F)."""
    return window.reshape(window.shape[0], -1)
