"""MotionLib: exact frame-time math, interpolation, slerp, loop modes, weighted sampling, windows."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation as R
from scipy.spatial.transform import Slerp

from awd.motion.clip import Clip, clip_from_positions
from awd.motion.motion_lib import MotionLib, MotionState

JOINTS = tuple(f"j{i}" for i in range(16))


def ramp_clip(num_frames=21, fps=10.0, loop_mode="Wrap", weight=1.0, offset=0.0):
    """joint_pos[:, k] = t + k + offset (a ramp in time), so the state at time t reveals t exactly;
    big rotations per frame to exercise slerp; contacts alternate each frame."""
    t = np.arange(num_frames) / fps
    rotvecs = np.stack([0.3 * np.sin(3 * t), 0.2 * t, 0.8 * t], axis=1)
    root_pos = np.stack([t, 2 * t, 0.3 + 0 * t], axis=1)
    joint_pos = t[:, None] + np.arange(16) + offset
    foot_pos = np.stack([root_pos, root_pos + 1.0], axis=1)
    contacts = np.stack([np.arange(num_frames) % 2, 1 - np.arange(num_frames) % 2], axis=1).astype(float)
    return clip_from_positions(fps, JOINTS, root_pos, R.from_rotvec(rotvecs).as_quat(), joint_pos, foot_pos,
                               contacts, loop_mode=loop_mode, weight=weight)


def lib_of(*clips, dtype=torch.float64):
    return MotionLib(list(clips), device="cpu", dtype=dtype)


def query(lib, clip_ids, times):
    return lib.get_state(torch.as_tensor(clip_ids), torch.as_tensor(times, dtype=torch.float64))


def test_shapes_and_properties():
    lib = lib_of(ramp_clip(), ramp_clip(num_frames=31, fps=30.0))
    assert lib.num_clips == 2 and lib.joint_names == JOINTS
    np.testing.assert_allclose(lib.lengths.numpy(), [2.0, 1.0])
    state = query(lib, [0, 1, 1], [0.1, 0.2, 0.3])
    assert state.root_pos.shape == (3, 3) and state.root_quat.shape == (3, 4)
    assert state.joint_pos.shape == (3, 16) and state.joint_vel.shape == (3, 16)
    assert state.foot_pos.shape == (3, 2, 3) and state.foot_contacts.shape == (3, 2)
    assert state.root_lin_vel.shape == (3, 3) and state.root_ang_vel.shape == (3, 3)


def test_exact_at_frame_times_without_time_dilation():
    clip_a, clip_b = ramp_clip(), ramp_clip(num_frames=31, fps=30.0, offset=100.0)
    lib = lib_of(clip_a, clip_b)
    for clip_id, clip in enumerate((clip_a, clip_b)):
        frames = np.arange(clip.num_frames)
        state = query(lib, np.full(len(frames), clip_id), frames / clip.fps)
        for name, expected in (("root_pos", clip.root_pos), ("joint_pos", clip.joint_pos),
                               ("joint_vel", clip.joint_vel), ("foot_pos", clip.foot_pos),
                               ("root_lin_vel", clip.root_lin_vel), ("root_ang_vel", clip.root_ang_vel),
                               ("foot_contacts", clip.foot_contacts)):
            np.testing.assert_allclose(getattr(state, name).numpy(), expected, atol=1e-9, err_msg=name)
        dots = np.abs(np.sum(state.root_quat.numpy() * clip.root_quat, axis=1))
        np.testing.assert_allclose(dots, 1.0, atol=1e-12)
    # the ramp reveals the time read: any time in [0, duration] maps to itself (frame i at i / fps)
    times = torch.linspace(0.0, 2.0, 57, dtype=torch.float64)
    state = lib.get_state(torch.zeros(57, dtype=torch.long), times)
    np.testing.assert_allclose(state.joint_pos[:, 0].numpy(), times.numpy(), atol=1e-12)


def test_midpoints_linear_and_slerp():
    clip = ramp_clip()
    lib = lib_of(clip)
    frames = np.arange(clip.num_frames - 1)
    state = query(lib, np.zeros(len(frames), dtype=int), (frames + 0.5) / clip.fps)
    np.testing.assert_allclose(state.joint_pos.numpy(), 0.5 * (clip.joint_pos[:-1] + clip.joint_pos[1:]), atol=1e-12)
    np.testing.assert_allclose(state.foot_pos.numpy(), 0.5 * (clip.foot_pos[:-1] + clip.foot_pos[1:]), atol=1e-12)
    np.testing.assert_allclose(state.joint_vel.numpy(), 0.5 * (clip.joint_vel[:-1] + clip.joint_vel[1:]), atol=1e-12)
    expected = np.array([Slerp([0, 1], R.from_quat(clip.root_quat[i:i + 2]))([0.5]).as_quat()[0] for i in frames])
    dots = np.abs(np.sum(state.root_quat.numpy() * expected, axis=1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-12)
    # a quarter of the way: slerp, not a normalised lerp
    state = query(lib, [0], [(3 + 0.25) / clip.fps])
    expected = Slerp([0, 1], R.from_quat(clip.root_quat[3:5]))([0.25]).as_quat()[0]
    assert abs(np.dot(state.root_quat.numpy()[0], expected)) == pytest.approx(1.0, abs=1e-12)


def test_contacts_from_nearest_frame():
    clip = ramp_clip()
    lib = lib_of(clip)
    state = query(lib, [0, 0, 0], [4.4 / 10.0, 4.6 / 10.0, 4.5 / 10.0])
    np.testing.assert_array_equal(state.foot_contacts.numpy(), clip.foot_contacts[[4, 5, 5]])


def test_wrap_and_clamp():
    wrap, clamp = ramp_clip(loop_mode="Wrap"), ramp_clip(loop_mode="Clamp")
    lib = lib_of(wrap, clamp)
    duration = 2.0
    times = [duration, duration + 0.05, 2 * duration + 0.05, -0.05, 1e-8 - 1e-7]
    state = query(lib, [0] * 5, times)
    np.testing.assert_allclose(state.joint_pos[:, 0].numpy(), [2.0, 0.05, 0.05, 1.95, 0.0], atol=1e-9)
    state = query(lib, [1] * 5, times)
    np.testing.assert_allclose(state.joint_pos[:, 0].numpy(), [2.0, 2.0, 2.0, 0.0, 0.0], atol=1e-9)


def test_float32_library_is_accurate():
    lib = lib_of(ramp_clip(), dtype=torch.float32)
    times = torch.tensor([0.0, 0.1, 0.15, 1.999, 2.0])
    state = lib.get_state(torch.zeros(5, dtype=torch.long), times)
    assert state.joint_pos.dtype == torch.float32
    np.testing.assert_allclose(state.joint_pos[:, 0].numpy(), times.numpy(), atol=1e-5)


def test_batched_query_shapes():
    lib = lib_of(ramp_clip())
    times = torch.rand(4, 5, dtype=torch.float64) * 2.0
    state = lib.get_state(torch.zeros(4, 5, dtype=torch.long), times)
    assert state.foot_pos.shape == (4, 5, 2, 3) and state.joint_pos.shape == (4, 5, 16)
    np.testing.assert_allclose(state.joint_pos[..., 0].numpy(), times.numpy(), atol=1e-12)


def test_sampling_respects_weights():
    lib = lib_of(ramp_clip(weight=1.0), ramp_clip(weight=2.0), ramp_clip(weight=7.0))
    ids = lib.sample_clips(40000, generator=torch.Generator().manual_seed(0))
    frequencies = torch.bincount(ids, minlength=3).double() / 40000
    np.testing.assert_allclose(frequencies.numpy(), [0.1, 0.2, 0.7], atol=0.01)
    # reproducible with a seeded generator
    again = lib.sample_clips(100, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, ids[:100])


def test_sample_times_in_range():
    lib = lib_of(ramp_clip(), ramp_clip(num_frames=11))  # durations 2.0 and 1.0
    ids = torch.tensor([0, 1] * 5000)
    times = lib.sample_times(ids, truncate_time=0.5, generator=torch.Generator().manual_seed(1))
    limits = torch.where(ids == 0, 1.5, 0.5).double()
    assert bool((times >= 0).all()) and bool((times <= limits).all())
    assert float(times[ids == 0].max()) > 1.45 and float(times[ids == 1].max()) > 0.45  # uses the whole range


def test_windows_newest_first_and_inside_the_clip():
    lib = lib_of(ramp_clip(), ramp_clip(num_frames=11), ramp_clip(num_frames=3))  # 2.0 s, 1.0 s, 0.2 s
    num_steps, dt = 10, 1.0 / 30.0
    ids, times = lib.sample_windows(5000, num_steps, dt, generator=torch.Generator().manual_seed(2))
    assert not bool((ids == 2).any())  # the 0.2 s clip cannot hold a 0.3 s window
    assert bool((times >= (num_steps - 1) * dt).all()) and bool((times <= lib.lengths[ids]).all())
    state = lib.get_window_states(ids, times, num_steps, dt)
    assert state.joint_pos.shape == (5000, num_steps, 16) and state.root_quat.shape == (5000, num_steps, 4)
    expected = times[:, None] - torch.arange(num_steps, dtype=torch.float64) * dt
    np.testing.assert_allclose(state.joint_pos[..., 0].numpy(), expected.numpy(), atol=1e-9)
    assert bool((expected >= 0).all())


def test_window_exactly_at_the_start_does_not_wrap():
    lib = lib_of(ramp_clip())
    num_steps, dt = 4, 0.1
    start = (num_steps - 1) * dt
    state = lib.get_window_states(torch.tensor([0]), torch.tensor([start], dtype=torch.float64), num_steps, dt)
    np.testing.assert_allclose(state.joint_pos[0, :, 0].numpy(), [0.3, 0.2, 0.1, 0.0], atol=1e-9)


def test_packed_windows_unpack_to_the_window_states():
    lib = lib_of(ramp_clip(), ramp_clip(num_frames=31, fps=30.0, loop_mode="Clamp"))
    ids, times = torch.tensor([0, 1, 1]), torch.tensor([0.15, 0.0, 0.95], dtype=torch.float64)
    packed = lib.get_window_packed(ids, times, 4, 0.1)
    assert packed.shape == (3, 4, lib.packed_size) and lib.packed_size == sum(lib.sizes)
    states = lib.get_window_states(ids, times, 4, 0.1)
    for name, field, expected in zip(MotionState._fields, lib.unpack(packed), states):
        assert torch.equal(field, expected), name
    for k in range(4):  # each window step is the plain query at t - k dt (clamped before the start)
        state = lib.get_state(ids, times - 0.1 * k)
        for name, field, expected in zip(MotionState._fields, lib.unpack(packed[:, k]), state):
            np.testing.assert_allclose(field.numpy(), expected.numpy(), atol=1e-12, err_msg=name)


def test_single_frame_clip_holds_its_frame():
    single = ramp_clip(num_frames=1, loop_mode="Wrap")
    lib = lib_of(single, ramp_clip())
    state = query(lib, [0, 0, 0, 1], [0.0, 0.7, -0.3, 0.05])
    np.testing.assert_allclose(state.joint_pos[:3].numpy(), np.repeat(single.joint_pos, 3, axis=0))
    np.testing.assert_allclose(state.root_quat[:3].numpy(), np.repeat(single.root_quat, 3, axis=0), atol=1e-12)
    np.testing.assert_allclose(state.joint_pos[3, 0].item(), 0.05, atol=1e-12)


def test_window_too_long_for_every_clip():
    lib = lib_of(ramp_clip(num_frames=3))
    with pytest.raises(ValueError, match="long enough"):
        lib.sample_windows(4, num_steps=10, dt=0.1)


def test_mixed_joint_orders_rejected():
    clip = ramp_clip()
    other = Clip(**{**clip.__dict__, "joint_names": JOINTS[::-1]})
    with pytest.raises(ValueError, match="joint names"):
        MotionLib([clip, other])


def test_key_body_positions_interpolate_with_their_clip_and_are_checked():
    clip_a, clip_b = ramp_clip(), ramp_clip(num_frames=31, fps=30.0)
    positions = [np.random.default_rng(i).normal(size=(clip.num_frames, 3, 3))
                 for i, clip in enumerate((clip_a, clip_b))]
    lib = MotionLib([clip_a, clip_b], dtype=torch.float64, key_bodies=("a", "b", "c"), key_body_pos=positions)
    assert lib.key_bodies == ("a", "b", "c")
    state = query(lib, [1, 1, 0], [2 / 30, 2.5 / 30, 0.05])
    assert state.key_body_pos.shape == (3, 3, 3)
    np.testing.assert_allclose(state.key_body_pos[0].numpy(), positions[1][2], atol=1e-12)
    np.testing.assert_allclose(state.key_body_pos[1].numpy(), 0.5 * (positions[1][2] + positions[1][3]), atol=1e-12)
    np.testing.assert_allclose(state.foot_contacts[2].numpy(), clip_a.foot_contacts[1])  # still the nearest frame
    assert lib_of(clip_a).get_state(torch.tensor([0]), torch.tensor([0.1])).key_body_pos.shape == (1, 0, 3)
    with pytest.raises(ValueError, match="shape"):
        MotionLib([clip_a, clip_b], key_bodies=("a", "b"), key_body_pos=positions)
    with pytest.raises(ValueError, match="without their positions"):
        MotionLib([clip_a], key_bodies=("a",))
