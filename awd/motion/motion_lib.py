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
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

from awd.motion.clip import Clip
from awd.utils.rotations import quat_slerp

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


_TRAILING = {"root_pos": 1, "root_quat": 1, "root_lin_vel": 1, "root_ang_vel": 1, "joint_pos": 1,
             "joint_vel": 1, "foot_pos": 2, "foot_contacts": 1}


def _reshape_state(state: MotionState, shape: tuple[int, ...]) -> MotionState:
    return MotionState(*(value.reshape(*shape, *value.shape[-_TRAILING[name]:])
                         for name, value in zip(MotionState._fields, state)))


class MotionLib:
    """Batched access to a list of clips (all with the same joint order) on `device`."""

    def __init__(self, clips: Sequence[Clip], device="cpu", dtype: torch.dtype = torch.float32):
        clips = list(clips)
        if not clips:
            raise ValueError("MotionLib: expected at least one clip, found none")
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

        self._root_pos = concat("root_pos")
        self._root_quat = concat("root_quat")
        self._root_lin_vel = concat("root_lin_vel")
        self._root_ang_vel = concat("root_ang_vel")
        self._joint_pos = concat("joint_pos")
        self._joint_vel = concat("joint_vel")
        self._foot_pos = concat("foot_pos")
        self._foot_contacts = concat("foot_contacts")

    @property
    def num_clips(self) -> int:
        return int(self.num_frames.shape[0])

    # ------------------------------------------------------------------------------------------ sampling

    def sample_clips(self, n: int, generator: torch.Generator | None = None, weights: torch.Tensor | None = None):
        """n clip ids drawn with replacement, with probability proportional to the clip weights."""
        weights = self.weights if weights is None else weights
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    def sample_times(self, clip_ids: torch.Tensor, truncate_time: float = 0.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Times uniform in [0, max(duration - truncate_time, 0)] for each clip id (float64)."""
        clip_ids = clip_ids.to(self.device)
        span = (self.lengths[clip_ids] - truncate_time).clamp_min(0.0)
        phase = torch.rand(clip_ids.shape, generator=generator, device=self.device, dtype=torch.float64)
        return phase * span

    def sample_windows(self, n: int, num_steps: int, dt: float, generator: torch.Generator | None = None):
        """Clip ids (by weight) and times t such that t, t - dt, ..., t - (num_steps - 1) dt all lie in the
        clip. Clips shorter than the window are never drawn; ValueError if no clip is long enough."""
        span = (num_steps - 1) * dt
        fits = self.lengths >= span
        if not bool(fits.any()):
            raise ValueError(f"MotionLib: no clip is long enough for a window of {num_steps} steps of {dt} s "
                             f"({span} s); longest clip is {float(self.lengths.max())} s")
        clip_ids = self.sample_clips(n, generator, weights=self.weights * fits)
        phase = torch.rand(n, generator=generator, device=self.device, dtype=torch.float64)
        times = span + phase * (self.lengths[clip_ids] - span)
        return clip_ids, times

    # ------------------------------------------------------------------------------------------ queries

    def _clip_times(self, clip_ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Map query times into [0, duration] by the clip's loop mode."""
        length = self.lengths[clip_ids]
        inside = (times >= -TIME_TOLERANCE) & (times <= length + TIME_TOLERANCE)
        wrapped = torch.where(length > 0, torch.remainder(times, length.clamp_min(1e-12)), torch.zeros_like(times))
        outside = torch.where(self.wrap[clip_ids], wrapped, times)
        return torch.where(inside, times, outside).clamp(min=torch.zeros_like(length), max=length)

    def get_state(self, clip_ids: torch.Tensor, times: torch.Tensor) -> MotionState:
        """Interpolated reference state; `clip_ids` and `times` share one (any) shape."""
        shape = tuple(clip_ids.shape)
        clip_ids = clip_ids.reshape(-1).to(self.device, torch.long)
        times = torch.as_tensor(times, device=self.device).reshape(-1).to(torch.float64)
        times = self._clip_times(clip_ids, times)

        position = times * self.fps[clip_ids]  # fractional frame index
        last = (self.num_frames[clip_ids] - 1)
        index0 = torch.minimum(position.floor().long(), (last - 1).clamp_min(0))
        index1 = torch.minimum(index0 + 1, last)
        alpha = (position - index0).clamp(0.0, 1.0)
        alpha = torch.where(index1 == index0, torch.zeros_like(alpha), alpha)
        start = self.frame_start[clip_ids]
        frame0, frame1 = start + index0, start + index1
        weight = alpha.to(self.dtype)

        def lerp(values):
            w = weight.reshape(-1, *([1] * (values.dim() - 1)))
            return values[frame0] * (1.0 - w) + values[frame1] * w

        nearest = torch.where(alpha >= 0.5, frame1, frame0)
        state = MotionState(
            root_pos=lerp(self._root_pos),
            root_quat=quat_slerp(self._root_quat[frame0], self._root_quat[frame1], weight),
            root_lin_vel=lerp(self._root_lin_vel),
            root_ang_vel=lerp(self._root_ang_vel),
            joint_pos=lerp(self._joint_pos),
            joint_vel=lerp(self._joint_vel),
            foot_pos=lerp(self._foot_pos),
            foot_contacts=self._foot_contacts[nearest],
        )
        return _reshape_state(state, shape)

    def get_window_states(self, clip_ids: torch.Tensor, times: torch.Tensor, num_steps: int, dt: float) -> MotionState:
        """States at t, t - dt, ..., t - (num_steps - 1) dt; leading shape (n, num_steps), newest first."""
        clip_ids = clip_ids.to(self.device, torch.long)
        times = torch.as_tensor(times, device=self.device).to(torch.float64)
        offsets = torch.arange(num_steps, device=self.device, dtype=torch.float64) * dt
        window_times = times.unsqueeze(-1) - offsets
        window_ids = clip_ids.unsqueeze(-1).expand_as(window_times)
        return self.get_state(window_ids, window_times)
