"""MotionLib: all clips of a dataset concatenated into flat torch tensors on one device, with batched
sampling (clips by weight, times, history windows) and interpolated state queries. No Python loop runs per
sample.

Time convention: frame i of a clip is at time i / fps; a clip lasts (T - 1) / fps. A query time inside
[0, duration] (with a 1e-6 s tolerance either side) reads the clip there, both ends included. Outside it,
"Wrap" clips take the time modulo the duration and "Clamp" clips clamp it. Wrapping does not accumulate the
root position or heading across loops: the returned root pose is always the clip's own pose at the wrapped
time (use root-relative quantities, or keep query windows inside the clip as `sample_windows` does).

Interpolation: linear between the two neighbouring frames for positions, velocities and joints; slerp for
the root quaternion; foot contacts come from the nearest frame (ties go to the later frame).

Key bodies: clips store the root, joints and feet only. The world positions of a robot's AMP key bodies
(feet, hands...) are given per clip frame at construction (`key_body_pos`, computed by forward kinematics of
the robot's model: awd.motion.motion_lib.motion_lib_for_robot) and interpolated like the other positions, so
demo features use the very frames the engine reports. Without them the state has no key bodies (B = 0).

A query costs a few dozen torch ops whatever its size (the env queries windows of all its envs every step on
a GPU): each frame row is stored with its successor (quaternion already on the same hemisphere) and the slerp
angle of the pair, so one gather fetches both neighbours, one lerp interpolates every field and the slerp
needs no per-query angle. Results are "packed" (the MotionState fields concatenated in order, foot_pos
flattened; `unpack` gives the MotionState of views).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from awd.motion.clip import Clip
from awd.utils.rotations import quat_normalize

TIME_TOLERANCE = 1e-6


class MotionState(NamedTuple):
    """Reference state for a batch of (clip, time) queries; leading shape = the query shape."""

    root_pos: torch.Tensor  # (..., 3) world
    root_quat: torch.Tensor  # (..., 4) x, y, z, w
    root_lin_vel: torch.Tensor  # (..., 3) world
    root_ang_vel: torch.Tensor  # (..., 3) world
    joint_pos: torch.Tensor  # (..., n)
    joint_vel: torch.Tensor  # (..., n)
    foot_pos: torch.Tensor  # (..., 2, 3) world, [left, right]
    foot_contacts: torch.Tensor  # (..., 2) in {0, 1}
    key_body_pos: torch.Tensor  # (..., B, 3) world, in `MotionLib.key_bodies` order


def packed_sizes(num_joints: int, num_key_bodies: int = 0) -> tuple[int, ...]:
    """Widths of the MotionState fields in a packed state (foot_pos and key_body_pos flattened)."""
    return (3, 4, 3, 3, num_joints, num_joints, 6, 2, 3 * num_key_bodies)


_QUAT = slice(3, 7)  # root_quat in a packed state


class MotionLib:
    """Batched access to a list of clips (all with the same joint order) on `device`; `key_body_pos`: per
    clip, the (T, B, 3) world positions of the bodies named `key_bodies` (see the module docstring)."""

    def __init__(self, clips: Sequence[Clip], device="cpu", dtype: torch.dtype = torch.float32,
                 key_bodies: Sequence[str] = (), key_body_pos: Sequence[np.ndarray] | None = None):
        clips = list(clips)
        if not clips:
            raise ValueError("MotionLib: expected at least one clip, found none")
        self.key_bodies = tuple(key_bodies)
        key_body_pos = self._check_key_bodies(clips, key_body_pos)
        self.device = torch.device(device)
        self.dtype = dtype
        self.joint_names = tuple(clips[0].joint_names)
        for index, clip in enumerate(clips):
            if tuple(clip.joint_names) != self.joint_names:
                raise ValueError(f"MotionLib: clip {index} joint names {clip.joint_names} differ from clip 0 "
                                 f"{self.joint_names}")
            if clip.num_frames < 1:
                raise ValueError(f"MotionLib: clip {index} has no frames")
            if not clip.weight > 0:
                raise ValueError(f"MotionLib: clip {index} weight must be positive, found {clip.weight}")

        def as_tensor(values, dtype=None):
            return torch.as_tensor(np.asarray(values), dtype=dtype or self.dtype, device=self.device)

        def concat(name):
            return as_tensor(np.concatenate([getattr(clip, name) for clip in clips], axis=0))

        counts = np.array([clip.num_frames for clip in clips], dtype=np.int64)
        self.num_frames = as_tensor(counts, torch.long)
        self.frame_start = as_tensor(np.concatenate([[0], np.cumsum(counts)[:-1]]), torch.long)
        self.fps = as_tensor([clip.fps for clip in clips], torch.float64)
        self.lengths = as_tensor([clip.duration for clip in clips], torch.float64)  # seconds, (T - 1) / fps
        self.wrap = as_tensor([clip.loop_mode == "Wrap" for clip in clips], torch.bool)
        weights = np.array([clip.weight for clip in clips], dtype=np.float64)
        self.weights = as_tensor(weights / weights.sum(), torch.float64)

        self.sizes = packed_sizes(len(self.joint_names), len(self.key_bodies))
        self.packed_size = sum(self.sizes)
        contacts_start = sum(self.sizes[:7])
        self._contacts = slice(contacts_start, contacts_start + 2)  # foot_contacts in a packed state
        fields = [concat(name).flatten(1) for name in MotionState._fields[:-1]]
        fields.append(as_tensor(np.concatenate(key_body_pos, axis=0)).flatten(1))
        frames = torch.cat(fields, dim=-1)
        last = self.num_frames - 1
        following = torch.arange(frames.shape[0], device=self.device) + 1  # next row, the clip's last row itself
        following[self.frame_start + last] = self.frame_start + last
        self._pairs = self._frame_pairs(frames, following)
        wrap_tolerance = as_tensor([TIME_TOLERANCE if clip.loop_mode == "Wrap" else np.inf for clip in clips],
                                   torch.float64)
        self._clip_table = torch.stack([self.lengths, self.fps, (last - 1).clamp_min(0).double(),
                                        self.frame_start.double(), -wrap_tolerance, self.lengths + wrap_tolerance],
                                       dim=-1)
        self._lerp_offset = as_tensor([1.0, 0.0])  # weights (1 - w, w) = offset + w * sign
        self._lerp_sign = as_tensor([-1.0, 1.0])
        self._window_offsets: dict[tuple[int, float], torch.Tensor] = {}

    def _check_key_bodies(self, clips: list[Clip], key_body_pos) -> list[np.ndarray]:
        """The per-clip (T, B, 3) key-body positions, checked against the clips (empty arrays without)."""
        count = len(self.key_bodies)
        if key_body_pos is None:
            if count:
                raise ValueError(f"MotionLib: key bodies {self.key_bodies} named without their positions")
            return [np.zeros((clip.num_frames, 0, 3)) for clip in clips]
        if len(key_body_pos) != len(clips):
            raise ValueError(f"MotionLib: {len(key_body_pos)} key-body position arrays for {len(clips)} clips")
        arrays = [np.asarray(positions, dtype=np.float64) for positions in key_body_pos]
        for index, (clip, positions) in enumerate(zip(clips, arrays)):
            if positions.shape != (clip.num_frames, count, 3):
                raise ValueError(f"MotionLib: clip {index} key-body positions have shape {positions.shape}, "
                                 f"expected {(clip.num_frames, count, 3)}")
        return arrays

    @staticmethod
    def _frame_pairs(frames: torch.Tensor, following: torch.Tensor) -> torch.Tensor:
        """(rows, 2, packed + 3): each frame row, its successor (quaternion flipped onto the row's hemisphere)
        and the slerp angle, safe sine and too-close flag of the pair, as `quat_slerp` computes them."""
        pairs = torch.stack([frames, frames[following]], dim=1)
        q0, q1 = pairs[:, 0, _QUAT], pairs[:, 1, _QUAT]
        cos_theta = (q0 * q1).sum(dim=-1, keepdim=True)
        pairs[:, 1, _QUAT] = torch.where(cos_theta < 0, -q1, q1)
        theta = torch.acos(cos_theta.abs().clamp(max=1.0))
        sin_theta = torch.sin(theta)
        close = sin_theta < 1e-6
        safe_sin = torch.where(close, torch.ones_like(sin_theta), sin_theta)
        slerp = torch.cat([theta, safe_sin, close.to(frames.dtype)], dim=-1)
        return torch.cat([pairs, slerp.unsqueeze(1).expand(-1, 2, -1)], dim=-1)

    @property
    def num_clips(self) -> int:
        return int(self.num_frames.shape[0])

    # ------------------------------------------------------------------------------------------ sampling

    def sample_clips(self, n: int, generator: torch.Generator | None = None, weights: torch.Tensor | None = None):
        """n clip ids drawn with replacement, with probability proportional to the clip weights."""
        weights = self.weights if weights is None else weights
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    def time_grid(self, clip: int, dt: float, start: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(clip ids, times float64): clip `clip` every `dt` s from `start` to its end."""
        times = torch.arange(start, float(self.lengths[clip]) + 1e-9, dt, dtype=torch.float64, device=self.device)
        return torch.full_like(times, clip, dtype=torch.long), times

    def sample_times(self, clip_ids: torch.Tensor, truncate_time: float = 0.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Times uniform in [0, max(duration - truncate_time, 0)] for each clip id (float64)."""
        clip_ids = clip_ids.to(self.device)
        span = (self.lengths[clip_ids] - truncate_time).clamp_min(0.0)
        phase = torch.rand(clip_ids.shape, generator=generator, device=self.device, dtype=torch.float64)
        return phase * span

    def sample_windows(self, n: int, num_steps: int, dt: float, generator: torch.Generator | None = None,
                       weights: torch.Tensor | None = None):
        """Clip ids (by `weights`, default the clips' own) and times t such that t, t - dt, ..., t - (num_steps - 1)
        dt all lie in the clip. Clips shorter than the window are never drawn; ValueError if no clip is long enough."""
        span = (num_steps - 1) * dt
        fits = self.lengths >= span
        if not bool(fits.any()):
            raise ValueError(f"MotionLib: no clip is long enough for a window of {num_steps} steps of {dt} s "
                             f"({span} s); longest clip is {float(self.lengths.max())} s")
        clip_ids = self.sample_clips(n, generator, weights=(self.weights if weights is None else weights) * fits)
        phase = torch.rand(n, generator=generator, device=self.device, dtype=torch.float64)
        times = span + phase * (self.lengths[clip_ids] - span)
        return clip_ids, times

    # ------------------------------------------------------------------------------------------ queries

    @staticmethod
    def _clip_times(times, length, wrap_low, wrap_high) -> torch.Tensor:
        """Map query times into [0, duration] by the clip's loop mode (wrap_low/high: the tolerance band of
        "Wrap" clips, infinite for "Clamp" clips, which the final clamp serves)."""
        wrapped = torch.remainder(times, length.clamp_min(1e-12))
        times = torch.where((times < wrap_low) | (times > wrap_high), wrapped, times)
        return torch.minimum(times.clamp_min(0.0), length)

    def _interpolate(self, clip_ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Packed states (..., packed_size) at `times` (float64) of `clip_ids` (long, broadcast to times)."""
        length, fps, last_start, start, wrap_low, wrap_high = self._clip_table[clip_ids].unbind(-1)
        position = self._clip_times(times, length, wrap_low, wrap_high) * fps  # fractional frame index
        index0 = torch.minimum(position.floor(), last_start)
        alpha = (position - index0).clamp(0.0, 1.0)
        rows = (start + index0).long()
        pairs = self._pairs.index_select(0, rows.flatten()).view(*rows.shape, *self._pairs.shape[1:])
        weight = alpha.to(self.dtype).unsqueeze(-1)
        values = torch.lerp(pairs[..., 0, :self.packed_size], pairs[..., 1, :self.packed_size], weight)
        weights = torch.addcmul(self._lerp_offset, weight, self._lerp_sign)
        theta, sin_theta, close = pairs[..., 0, self.packed_size:].unsqueeze(-2).unbind(-1)
        slerp = torch.where(close > 0.5, weights, torch.sin(weights * theta) / sin_theta)
        values[..., _QUAT] = quat_normalize((slerp.unsqueeze(-1) * pairs[..., _QUAT]).sum(-2))
        contacts = pairs[..., self._contacts]  # nearest frame, not interpolated
        values[..., self._contacts] = torch.where((alpha >= 0.5).unsqueeze(-1), contacts[..., 1, :],
                                                  contacts[..., 0, :])
        return values

    def unpack(self, values: torch.Tensor) -> MotionState:
        """The MotionState of packed states (..., packed_size), as views."""
        fields = values.split(self.sizes, dim=-1)
        return MotionState(*fields[:6], fields[6].unflatten(-1, (2, 3)), fields[7],
                           fields[8].unflatten(-1, (len(self.key_bodies), 3)))

    def get_state(self, clip_ids: torch.Tensor, times: torch.Tensor) -> MotionState:
        """Interpolated reference state; `clip_ids` and `times` share one (any) shape."""
        clip_ids = clip_ids.to(self.device, torch.long)
        times = torch.as_tensor(times, device=self.device).to(torch.float64)
        return self.unpack(self._interpolate(clip_ids, times))

    def get_window_states(self, clip_ids: torch.Tensor, times: torch.Tensor, num_steps: int, dt: float) -> MotionState:
        """States at t, t - dt, ..., t - (num_steps - 1) dt; leading shape (n, num_steps), newest first."""
        return self.unpack(self.get_window_packed(clip_ids, times, num_steps, dt))

    def get_window_packed(self, clip_ids: torch.Tensor, times: torch.Tensor, num_steps: int, dt: float) -> torch.Tensor:
        """`get_window_states` packed: (n, num_steps, packed_size)."""
        clip_ids = clip_ids.to(self.device, torch.long)
        times = torch.as_tensor(times, device=self.device).to(torch.float64)
        return self._interpolate(clip_ids.unsqueeze(-1), times.unsqueeze(-1) - self._offsets(num_steps, dt))

    def _offsets(self, num_steps: int, dt: float) -> torch.Tensor:
        """(num_steps,) float64 k * dt, made once per window shape."""
        key = (num_steps, dt)
        if key not in self._window_offsets:
            self._window_offsets[key] = torch.arange(num_steps, device=self.device, dtype=torch.float64) * dt
        return self._window_offsets[key]


def motion_lib_for_robot(spec, clips, device="cpu", dtype=None) -> MotionLib:
    """A MotionLib of `clips` with the positions of the spec's key bodies (AMP features) in every frame, by forward
    kinematics of the spec's MJCF (awd.robot.kinematics)."""
    from awd.robot.kinematics import BodyPositions

    kinematics = BodyPositions(spec, spec.key_bodies)
    positions = [kinematics(clip.root_pos, clip.root_quat, clip.joint_pos) for clip in clips]
    return MotionLib(clips, device=device, dtype=dtype or torch.float32, key_bodies=spec.key_bodies,
                     key_body_pos=positions)
