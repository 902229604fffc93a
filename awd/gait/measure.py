"""Measurements on clips: root yaw, heading-frame velocities, mean velocities over whole gait periods."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation


def root_yaw(root_quat: np.ndarray) -> np.ndarray:
    """Unwrapped heading (yaw of the root's x axis projected on the floor) per frame, from xyzw quaternions."""
    matrices = Rotation.from_quat(root_quat).as_matrix()
    return np.unwrap(np.arctan2(matrices[:, 1, 0], matrices[:, 0, 0]))


def heading_frame_velocity(clip) -> np.ndarray:
    """(T, 3): root linear velocity rotated into the heading frame (vx forward, vy left) and the yaw rate."""
    yaw = root_yaw(clip.root_quat)
    cos, sin = np.cos(yaw), np.sin(yaw)
    vx = cos * clip.root_lin_vel[:, 0] + sin * clip.root_lin_vel[:, 1]
    vy = -sin * clip.root_lin_vel[:, 0] + cos * clip.root_lin_vel[:, 1]
    return np.stack([vx, vy, clip.root_ang_vel[:, 2]], axis=1)


def measure_velocities(clip, period: float) -> dict:
    """Mean heading-frame velocities (vx, vy, wz) over the longest whole number of gait periods from frame 0
    (the whole clip if it is shorter than a period). Displacements between frames are rotated by the mean
    heading of the two frames, summed, and interpolated at the end of the window."""
    times = np.arange(clip.num_frames) / clip.fps
    if clip.num_frames < 2:
        return {"vx": 0.0, "vy": 0.0, "wz": 0.0, "window_s": 0.0, "periods": 0}
    periods = int(math.floor(clip.duration / period + 1e-9)) if period > 0 else 0
    window = periods * period if periods > 0 else clip.duration
    yaw = root_yaw(clip.root_quat)
    steps = np.diff(clip.root_pos[:, :2], axis=0)
    middle = 0.5 * (yaw[1:] + yaw[:-1])
    forward = np.cos(middle) * steps[:, 0] + np.sin(middle) * steps[:, 1]
    left = -np.sin(middle) * steps[:, 0] + np.cos(middle) * steps[:, 1]
    travelled_x = np.concatenate([[0.0], np.cumsum(forward)])
    travelled_y = np.concatenate([[0.0], np.cumsum(left)])
    return {
        "vx": float(np.interp(window, times, travelled_x) / window),
        "vy": float(np.interp(window, times, travelled_y) / window),
        "wz": float((np.interp(window, times, yaw) - yaw[0]) / window),
        "window_s": float(window),
        "periods": periods,
    }
