"""Motion data: the clip format (clip.py), datasets of clips (dataset.py) and the torch motion library
(motion_lib.py, imported explicitly so that clip tools do not need torch)."""

from awd.motion.clip import Clip, clip_from_positions, compute_velocities, load_clip, save_clip

__all__ = ["Clip", "clip_from_positions", "compute_velocities", "load_clip", "save_clip"]
