"""awd.motion.strides: a gait's mean velocity over its whole strides, not over a window that ends part-way through
one (the G1's sidestep clips leaned 0.01 m/s toward one side), and the clips' velocities the tasks use."""

from __future__ import annotations

import numpy as np
import pytest

from awd.motion.strides import whole_strides


def test_whole_strides_run_from_a_foots_first_touchdown_to_its_last():
    period, frames = 50, 190  # 3.8 strides
    t = np.arange(frames)
    left = (t % period) < 30
    right = ((t + period // 2) % period) < 30
    contacts = np.stack([left, right], axis=1)
    span = whole_strides(contacts)
    assert (span.stop - span.start) % period == 0 and span.stop - span.start >= 2 * period
    lateral = 0.17 + 0.1 * np.sin(2 * np.pi * t / period)  # sways within each stride about its mean
    assert lateral[span].mean() == pytest.approx(0.17, abs=1e-9)
    assert abs(lateral.mean() - 0.17) > 0.002  # the whole window leans
    assert whole_strides(np.ones((frames, 2), dtype=bool)) == slice(None)  # standing: every frame


def test_the_g1_sidestep_clips_are_as_fast_to_either_side():
    from awd import DATA_DIR
    from awd.motion.dataset import dataset_files, load_dataset
    from awd.motion.motion_lib import motion_lib_for_robot
    from awd.robot.spec import load_robot_spec
    from awd.tasks.demo_weights import clip_velocities_and_stepping

    spec, folder = load_robot_spec("g1"), DATA_DIR / "motions" / "g1"
    names = [path.stem for path in dataset_files(folder)]
    lib = motion_lib_for_robot(spec, load_dataset(folder, spec.joint_names))
    velocities, _ = clip_velocities_and_stepping(lib, 0.02)
    for speed in ("slow", "medium", "fast"):
        left, right = (float(velocities[names.index(f"{side}_{speed}"), 1]) for side in ("left", "right"))
        assert left == pytest.approx(-right, abs=0.003)  # over the whole clip: 0.158 and -0.182 when fast
