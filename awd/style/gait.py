"""Gait metrics of a recorded motion (a policy's rollout or a reference clip), in numpy, engine-free.

A `Gait` holds T frames at `dt`: root pose and velocities, joint angles, the feet's frame positions and their
floor contacts. `gait_stats` measures what makes a walk look like its clip: the mean velocity in the yaw frame,
the stride period (mean time between touchdowns of a foot), each foot's swing clearance (mean over complete
swings of the highest point above that foot's stance height), the double-support and flight shares, trunk height,
pitch (+ nose down) and roll, and left/right symmetry. `joint_cycle_errors` compares joint trajectories stride for
stride: each stride is time-normalised to `CYCLE_SAMPLES` phases and averaged, and the two mean strides are
compared at the circular phase offset that minimises their difference (per-joint RMS, averaged over joints).

Contacts shorter gaps than `MIN_SWING_S` in the air count as contact, so contact chatter is not a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from awd.motion.strides import touchdowns, whole_strides

MIN_SWING_S = 0.04
CYCLE_SAMPLES = 64


@dataclass(frozen=True)
class Gait:
    """T frames of a motion; quaternions x, y, z, w; velocities world-frame; feet [left, right]."""

    dt: float
    root_pos: np.ndarray  # (T, 3)
    root_quat: np.ndarray  # (T, 4)
    root_lin_vel: np.ndarray  # (T, 3)
    root_ang_vel: np.ndarray  # (T, 3)
    joint_pos: np.ndarray  # (T, n)
    foot_pos: np.ndarray  # (T, 2, 3)
    foot_contacts: np.ndarray  # (T, 2) bool

    @classmethod
    def from_clip(cls, clip, foot_pos: np.ndarray | None = None) -> "Gait":
        """A clip (awd.motion.clip.Clip) as a gait, its feet from the clip or, given, `foot_pos` (T, 2, 3)."""
        return cls(1.0 / clip.fps, clip.root_pos, clip.root_quat, clip.root_lin_vel, clip.root_ang_vel, clip.joint_pos,
                   clip.foot_pos if foot_pos is None else foot_pos, clip.foot_contacts > 0.5)

    @property
    def num_frames(self) -> int:
        return len(self.root_pos)

    def repeated(self, times: int) -> "Gait":
        """The motion played `times` times back to back (positions and phase jump back where one play ends)."""
        return Gait(self.dt, *(np.concatenate([getattr(self, name)] * times) for name in _ARRAYS))

    def frames(self, start: int, stop: int | None = None) -> "Gait":
        """The frames [start, stop)."""
        cut = slice(start, stop)
        return Gait(self.dt, *(getattr(self, name)[cut] for name in _ARRAYS))


_ARRAYS = ("root_pos", "root_quat", "root_lin_vel", "root_ang_vel", "joint_pos", "foot_pos", "foot_contacts")


@dataclass(frozen=True)
class GaitStats:
    velocity: tuple[float, float, float]  # mean vx, vy (m/s, yaw frame), wz (rad/s)
    stride_period: float | None  # s; None: fewer than two touchdowns of each foot
    clearance: tuple[float, float]  # m, left / right; 0 for a foot that never completes a swing
    double_support: float  # share of frames with both feet down
    flight: float  # share of frames with no foot down
    trunk_height: float  # m
    pitch_deg: float  # + nose down
    roll_deg: float  # + right side down
    clearance_symmetry: float  # min / max of the two clearances (1: symmetric; 0: one foot never lifts)
    step_phase: float | None  # right touchdown after left, as a share of the stride (0.5: symmetric)


def yaw_angle(quat: np.ndarray) -> np.ndarray:
    x, y, z, w = np.moveaxis(quat, -1, 0)
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def pitch_roll_deg(quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trunk pitch (+ nose down) and roll (+ right side down) in degrees."""
    x, y, z, w = np.moveaxis(quat, -1, 0)
    pitch = np.arcsin(np.clip(2.0 * (w * y - z * x), -1.0, 1.0))
    roll = np.arctan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    return np.degrees(pitch), np.degrees(roll)


def yaw_frame_velocity(gait: Gait) -> np.ndarray:
    """(T, 3): vx, vy in the current yaw frame and wz."""
    yaw = yaw_angle(gait.root_quat)
    c, s = np.cos(yaw), np.sin(yaw)
    vx, vy = gait.root_lin_vel[:, 0], gait.root_lin_vel[:, 1]
    return np.stack([c * vx + s * vy, -s * vx + c * vy, gait.root_ang_vel[:, 2]], axis=-1)


def steady_contacts(contacts: np.ndarray, dt: float) -> np.ndarray:
    """(T, 2) contacts with air gaps shorter than MIN_SWING_S closed."""
    shortest = max(1, int(round(MIN_SWING_S / dt)))
    cleaned = np.asarray(contacts, dtype=bool).copy()
    for foot in range(cleaned.shape[1]):
        for start, stop in _air_runs(cleaned[:, foot]):
            if stop - start < shortest and start > 0 and stop < len(cleaned):
                cleaned[start:stop, foot] = True
    return cleaned


def _air_runs(contact: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) runs of frames without contact."""
    air = np.concatenate([[False], ~contact, [False]]).astype(np.int8)
    edges = np.diff(air)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def stride_period(contacts: np.ndarray, dt: float) -> float | None:
    intervals = np.concatenate([np.diff(touchdowns(contacts[:, foot])) for foot in range(contacts.shape[1])])
    return float(np.mean(intervals) * dt) if len(intervals) else None


def swing_clearance(foot_z: np.ndarray, contact: np.ndarray) -> float:
    """Mean over complete swings (contact before and after) of the highest point above the stance height."""
    if not contact.any():
        return 0.0
    stance = float(np.median(foot_z[contact]))
    heights = [foot_z[start:stop].max() - stance for start, stop in _air_runs(contact)
               if start > 0 and stop < len(contact)]
    return float(np.mean(heights)) if heights else 0.0


def step_phase(contacts: np.ndarray, period: float | None, dt: float) -> float | None:
    left, right = touchdowns(contacts[:, 0]), touchdowns(contacts[:, 1])
    if period is None or not len(left) or not len(right):
        return None
    delays = [(r - left[left < r][-1]) * dt / period for r in right if (left < r).any()]
    return float(np.median(delays) % 1.0) if delays else None


def gait_stats(gait: Gait) -> GaitStats:
    contacts = steady_contacts(gait.foot_contacts, gait.dt)
    period = stride_period(contacts, gait.dt)
    clearance = tuple(swing_clearance(gait.foot_pos[:, foot, 2], contacts[:, foot]) for foot in range(2))
    pitch, roll = pitch_roll_deg(gait.root_quat)
    down = contacts.sum(axis=1)
    highest = max(clearance)
    return GaitStats(
        velocity=tuple(float(v) for v in yaw_frame_velocity(gait)[whole_strides(contacts)].mean(axis=0)),
        stride_period=period,
        clearance=clearance, double_support=float((down == 2).mean()), flight=float((down == 0).mean()),
        trunk_height=float(gait.root_pos[:, 2].mean()), pitch_deg=float(pitch.mean()), roll_deg=float(roll.mean()),
        clearance_symmetry=float(min(clearance) / highest) if highest > 0 else 0.0,
        step_phase=step_phase(contacts, period, gait.dt))


def mean_cycle(values: np.ndarray, period_frames: float) -> np.ndarray:
    """(CYCLE_SAMPLES, n): the complete strides of `values` (T, n), each resampled to CYCLE_SAMPLES phases,
    averaged. A series shorter than one stride is treated as one (its time axis stretched)."""
    period_frames = min(float(period_frames), len(values) - 1.0)
    cycles = max(1, int((len(values) - 1) // period_frames))
    phases = np.arange(CYCLE_SAMPLES) / CYCLE_SAMPLES * period_frames
    times = (np.arange(cycles)[:, None] * period_frames + phases).ravel()
    frames = np.arange(len(values))
    sampled = np.stack([np.interp(times, frames, values[:, j]) for j in range(values.shape[1])], axis=-1)
    return sampled.reshape(cycles, CYCLE_SAMPLES, -1).mean(axis=0)


def cycle_errors(cycle: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(n,): each joint's RMS difference of two mean strides (CYCLE_SAMPLES, n), at the circular phase offset
    that minimises their mean (one offset for all joints)."""
    errors = np.stack([np.sqrt(((np.roll(cycle, shift, axis=0) - reference) ** 2).mean(axis=0))
                       for shift in range(len(cycle))])
    return errors[errors.mean(axis=1).argmin()]


def joint_cycle_errors(joints: np.ndarray, period: float | None, dt: float, reference: np.ndarray,
                       reference_period: float, reference_dt: float) -> tuple[np.ndarray, np.ndarray]:
    """`cycle_errors` of joint series (T, n) sampled every `dt` against reference series, and (n,) each joint's
    mean offset over the stride (own mean minus the reference's: the part of the error a posture explains); a
    motion without a stride period is cut in strides of the reference's. The errors' mean is the style judge's
    joint error."""
    own = mean_cycle(joints, (period or reference_period) / dt)
    theirs = mean_cycle(reference, reference_period / reference_dt)
    return cycle_errors(own, theirs), own.mean(axis=0) - theirs.mean(axis=0)
