"""Checks of a generated clip before it is written: a sole under the floor is refused (the physics would push the
foot up, and the discriminator would learn a pose no env shows), a joint pinned at its limit is reported (the IK
ran out of range: the walk parameters ask too much of the robot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from awd.errors import AwdError
from awd.motion.clip import Clip

SOLE_TOLERANCE = 0.002  # m below the floor
LIMIT_MARGIN = 1e-3  # rad from a bound counts as at the limit
LIMIT_SHARE = 0.10  # of the frames


def check_soles(clip: Clip, path: Path, foot_names=("left", "right")) -> None:
    """AwdError when a sole goes more than SOLE_TOLERANCE under the floor (z = 0)."""
    heights = clip.foot_pos[:, :, 2]
    frame, foot = np.unravel_index(np.argmin(heights), heights.shape)
    if heights[frame, foot] < -SOLE_TOLERANCE:
        raise AwdError(path, "foot_pos", f"the {foot_names[foot]} sole goes {-heights[frame, foot] * 1e3:.1f} mm under "
                       f"the floor at frame {frame} (t = {frame / clip.fps:.2f} s; at most {SOLE_TOLERANCE * 1e3:g} mm "
                       "allowed): check walk_com_height and the robot's init.root_height and default pose")


def joints_at_limits(clip: Clip, lower: np.ndarray, upper: np.ndarray) -> list[tuple[str, float]]:
    """(joint, share of frames) for each joint within LIMIT_MARGIN of a bound in more than LIMIT_SHARE of them."""
    pinned = (clip.joint_pos <= lower + LIMIT_MARGIN) | (clip.joint_pos >= upper - LIMIT_MARGIN)
    shares = pinned.mean(axis=0)
    return [(name, float(share)) for name, share in zip(clip.joint_names, shares) if share > LIMIT_SHARE]
