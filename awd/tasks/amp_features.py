"""AMP features (the discriminator input), derived from the robot spec. One function, `amp_frame`, maps a
root/joint/feet state to one feature frame; it is used for policy rollouts (engine state, `frame_from_engine`)
and for demo windows (MotionState, `frame_from_motion`), so both sides see exactly the same computation.

Per frame, in order: root height (1), root rotation with the heading removed as tangent/normal (6), root
linear and angular velocity in the heading frame (3 + 3), joint positions and velocities of the style joints
(all joints but `amp.exclude_joints`; joints the clips do not move, like a duck's head, would only let the
discriminator win on noise), key-body positions (the spec's `key_bodies`: a duck's feet, a humanoid's feet and
hands) relative to the root in the heading frame (3 per body), optional foot contacts (2). `amp.root_height`,
`amp.root_rotation` and `amp.root_angular_velocity` false keep their slots and zero them (a kinematic clip holds
its trunk's pitch and roll exactly, which no physical robot does: see benchmarks/clip_replay.py). Demo key-body
positions come from forward kinematics of the same model (awd.robot.kinematics), not from the clips.
A window holds K frames stacked newest first and flattened: (N, K * frame_size).

The heading frame turns every vector (the rotated x and z axes, the velocities, the feet) in one complex
multiplication; a frame costs about 20 torch ops whatever its leading shape (the env computes several per step).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch

from awd.errors import AwdError
from awd.utils.rotations import quat_to_matrix, rotate_about_z, yaw_from_matrix


@dataclass(frozen=True)
class AmpLayout:
    """Named layout of one AMP frame and the window length."""

    joint_indices: tuple[int, ...]
    joint_names: tuple[str, ...]
    key_bodies: tuple[str, ...]
    num_steps: int
    foot_contacts: bool = False
    root_height: bool = True
    root_rotation: bool = True
    root_angular_velocity: bool = True

    @property
    def parts(self) -> list[tuple[str, int]]:
        parts = [("root_height", 1), ("root_rot_tan_norm", 6), ("root_lin_vel_heading", 3),
                 ("root_ang_vel_heading", 3), ("joint_pos", len(self.joint_indices)),
                 ("joint_vel", len(self.joint_indices)),
                 ("key_body_pos_heading", 3 * len(self.key_bodies))]
        if self.foot_contacts:
            parts.append(("foot_contacts", 2))
        return parts

    @property
    def joint_runs(self) -> list[slice]:
        """`joint_indices` as slices of consecutive joints (a frame takes them without an index tensor)."""
        runs, start = [], 0
        indices = self.joint_indices
        for i in range(1, len(indices) + 1):
            if i == len(indices) or indices[i] != indices[i - 1] + 1:
                runs.append(slice(indices[start], indices[i - 1] + 1))
                start = i
        return runs

    @property
    def frame_size(self) -> int:
        return sum(size for _, size in self.parts)

    @property
    def window_size(self) -> int:
        return self.frame_size * self.num_steps


def make_amp_layout(spec, amp_cfg, source: str | None = None) -> AmpLayout:
    """The AMP layout for a RobotSpec and an AmpConfig (the key bodies are the spec's `key_bodies`)."""
    patterns = amp_cfg.exclude_joints
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(name, p) for name in spec.joint_names)]
    if unknown:
        raise AwdError(source, "env.amp.exclude_joints", f"unknown joint(s) {unknown} (no joint matches); expected "
                       f"names or patterns of {list(spec.joint_names)}")
    kept = [i for i, name in enumerate(spec.joint_names) if not any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    return AmpLayout(joint_indices=tuple(kept), joint_names=tuple(spec.joint_names[i] for i in kept),
                     key_bodies=tuple(spec.key_bodies), num_steps=amp_cfg.num_steps,
                     foot_contacts=amp_cfg.foot_contacts, root_height=amp_cfg.root_height,
                     root_rotation=amp_cfg.root_rotation, root_angular_velocity=amp_cfg.root_angular_velocity)


def held_joint_mask(layout: AmpLayout, num_joints: int, device=None) -> torch.Tensor:
    """(num_joints,) bool: True for the joints left out of the AMP features."""
    mask = torch.ones(num_joints, dtype=torch.bool, device=device)
    mask[list(layout.joint_indices)] = False
    return mask


def amp_frame(layout: AmpLayout, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel,
              key_body_pos, foot_contacts, root_matrix=None) -> torch.Tensor:
    """One feature frame per leading index. Shapes (..., 3), (..., 4) xyzw, (..., 3), (..., 3), (..., n),
    (..., n), (..., B, 3) world, (..., 2); returns (..., frame_size). `root_matrix` (..., 3, 3), when given,
    is `quat_to_matrix(root_quat)` already computed."""
    matrix = quat_to_matrix(root_quat) if root_matrix is None else root_matrix
    heading = yaw_from_matrix(matrix).unsqueeze(-1)
    axes = matrix.transpose(-1, -2)[..., ::2, :]  # the rotated x axis (tangent) and z axis (normal)
    vectors = torch.cat([axes, root_lin_vel.unsqueeze(-2), root_ang_vel.unsqueeze(-2),
                         key_body_pos - root_pos.unsqueeze(-2)], dim=-2)
    local = rotate_about_z(-heading, vectors).flatten(-2)  # heading removed
    rotation, lin_vel, ang_vel, bodies = local[..., :6], local[..., 6:9], local[..., 9:12], local[..., 12:]
    height = root_pos[..., 2:3]
    height, rotation, ang_vel = (part if kept else torch.zeros_like(part) for part, kept in (
        (height, layout.root_height), (rotation, layout.root_rotation), (ang_vel, layout.root_angular_velocity)))
    joints = layout.joint_runs
    parts = [height, rotation, lin_vel, ang_vel, *(joint_pos[..., run] for run in joints),
             *(joint_vel[..., run] for run in joints), bodies]
    if layout.foot_contacts:
        parts.append(foot_contacts.to(root_pos.dtype))
    return torch.cat(parts, dim=-1)


def frame_from_motion(layout: AmpLayout, state) -> torch.Tensor:
    """Feature frames of a MotionState (any leading shape)."""
    return amp_frame(layout, state.root_pos, state.root_quat, state.root_lin_vel, state.root_ang_vel,
                     state.joint_pos, state.joint_vel, state.key_body_pos, state.foot_contacts)


def frame_from_engine(layout: AmpLayout, engine, key_body_indices, root_matrix=None) -> torch.Tensor:
    """Feature frames (N, frame_size) of the engine's current state; `key_body_indices` index engine.body_pos
    in `layout.key_bodies` order; `root_matrix` as in `amp_frame`."""
    key_body_pos = engine.body_pos[:, key_body_indices]
    return amp_frame(layout, engine.root_pos, engine.root_quat, engine.root_lin_vel, engine.root_ang_vel,
                     engine.joint_pos, engine.joint_vel, key_body_pos, engine.foot_contacts, root_matrix)


def window_from_motion(layout: AmpLayout, motion_lib, clip_ids, times, dt: float) -> torch.Tensor:
    """(n, K, frame_size) frames at t, t - dt, ..., newest first."""
    states = motion_lib.get_window_states(clip_ids, times, layout.num_steps, dt)
    return frame_from_motion(layout, states)


def flatten_window(window: torch.Tensor) -> torch.Tensor:
    """(N, K, F) newest first -> (N, K * F)."""
    return window.reshape(window.shape[0], -1)
