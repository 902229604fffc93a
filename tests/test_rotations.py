"""awd.utils.rotations against scipy (scalar-last quaternions)."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation as R
from scipy.spatial.transform import Slerp

from awd.utils import rotations as rot

RNG = np.random.default_rng(0)


def random_quats(n=64):
    return R.random(n, random_state=1).as_quat()


def t(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def same_rotation(q_torch, q_ref, atol=1e-9):
    """Quaternions q and -q are the same rotation."""
    q = q_torch.numpy()
    dots = np.abs(np.sum(q * q_ref, axis=-1))
    np.testing.assert_allclose(dots, 1.0, atol=atol)


def test_mul_conjugate_rotate_match_scipy():
    a, b = random_quats(), R.random(64, random_state=2).as_quat()
    v = RNG.normal(size=(64, 3))
    same_rotation(rot.quat_mul(t(a), t(b)), (R.from_quat(a) * R.from_quat(b)).as_quat())
    same_rotation(rot.quat_conjugate(t(a)), R.from_quat(a).inv().as_quat())
    np.testing.assert_allclose(rot.quat_rotate(t(a), t(v)).numpy(), R.from_quat(a).apply(v), atol=1e-12)
    np.testing.assert_allclose(rot.quat_rotate_inverse(t(a), t(v)).numpy(), R.from_quat(a).inv().apply(v),
                               atol=1e-12)


def test_rotate_broadcasts_one_quat_over_many_vectors():
    q = random_quats(1)
    v = RNG.normal(size=(5, 7, 3))
    out = rot.quat_rotate(t(q).expand(5, 7, 4), t(v))
    np.testing.assert_allclose(out.numpy(), R.from_quat(q[0]).apply(v.reshape(-1, 3)).reshape(5, 7, 3), atol=1e-12)


def test_normalize_and_order_conversions():
    q = RNG.normal(size=(10, 4))
    n = rot.quat_normalize(t(q)).numpy()
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0)
    np.testing.assert_allclose(n, q / np.linalg.norm(q, axis=-1, keepdims=True))
    wxyz = rot.xyzw_to_wxyz(t(q)).numpy()
    np.testing.assert_array_equal(wxyz[:, 0], q[:, 3])
    np.testing.assert_array_equal(wxyz[:, 1:], q[:, :3])
    np.testing.assert_array_equal(rot.wxyz_to_xyzw(t(wxyz)).numpy(), q)


def test_axis_angle_round_trip_and_scipy():
    rotvec = RNG.normal(size=(64, 3))
    rotvec *= (RNG.uniform(0, np.pi - 1e-3, size=(64, 1)) / np.linalg.norm(rotvec, axis=-1, keepdims=True))
    rotvec[0] = [1e-9, 0, 0]
    rotvec[1] = 0.0
    q = rot.quat_from_rotation_vector(t(rotvec))
    same_rotation(q, R.from_rotvec(rotvec).as_quat())
    np.testing.assert_allclose(rot.quat_to_axis_angle(q).numpy(), rotvec, atol=1e-9)
    # negated quaternions give the same (shortest) rotation vector
    np.testing.assert_allclose(rot.quat_to_axis_angle(-q).numpy(), rotvec, atol=1e-9)
    angle = np.linalg.norm(rotvec[2:], axis=-1)
    q2 = rot.quat_from_axis_angle(t(rotvec[2:] * 3.0), t(angle))
    same_rotation(q2, R.from_rotvec(rotvec[2:]).as_quat())


def test_slerp_matches_scipy_and_endpoints():
    a, b = random_quats(32), R.random(32, random_state=3).as_quat()
    for fraction in (0.0, 0.25, 0.5, 0.9, 1.0):
        out = rot.quat_slerp(t(a), t(b), t(np.full(32, fraction)))
        expected = [Slerp([0, 1], R.from_quat([a[i], b[i]]))([fraction]).as_quat()[0] for i in range(32)]
        same_rotation(out, np.array(expected), atol=1e-9)
    # hemisphere: slerp towards -b equals slerp towards b
    same_rotation(rot.quat_slerp(t(a), t(-b), 0.3), rot.quat_slerp(t(a), t(b), 0.3).numpy())
    # nearly identical quaternions do not produce NaN
    out = rot.quat_slerp(t(a), t(a), 0.5)
    assert torch.isfinite(out).all()
    same_rotation(out, a)


def test_euler_xyz_matches_scipy_extrinsic():
    angles = RNG.uniform(-np.pi, np.pi, size=(64, 3))
    q = rot.quat_from_euler_xyz(t(angles[:, 0]), t(angles[:, 1]), t(angles[:, 2]))
    same_rotation(q, R.from_euler("xyz", angles).as_quat())


def test_yaw_and_heading():
    yaw = RNG.uniform(-np.pi + 1e-3, np.pi, size=64)
    roll = RNG.uniform(-0.5, 0.5, size=64)
    pitch = RNG.uniform(-0.5, 0.5, size=64)
    q = R.from_euler("xyz", np.stack([roll, pitch, yaw], axis=1)).as_quat()
    np.testing.assert_allclose(rot.yaw_from_quat(t(q)).numpy(), yaw, atol=1e-9)
    same_rotation(rot.heading_quat(t(q)), R.from_euler("z", yaw[:, None]).as_quat())
    # removing the heading leaves a rotation with zero yaw
    local = rot.quat_mul(rot.heading_quat_inverse(t(q)), t(q))
    np.testing.assert_allclose(rot.yaw_from_quat(local).numpy(), 0.0, atol=1e-9)


def test_tan_norm():
    q = random_quats()
    m = R.from_quat(q).as_matrix()
    out = rot.quat_to_tan_norm(t(q)).numpy()
    np.testing.assert_allclose(out[:, :3], m[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(out[:, 3:], m[:, :, 2], atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_works(dtype):
    q = torch.as_tensor(random_quats(8), dtype=dtype)
    v = torch.ones(8, 3, dtype=dtype)
    assert rot.quat_rotate(q, v).dtype == dtype
    assert rot.quat_slerp(q, q.flip(0), torch.full((8,), 0.5, dtype=dtype)).dtype == dtype


def test_matrix_matches_scipy_and_quat_rotate():
    q = random_quats(60)
    m = rot.quat_to_matrix(t(q).view(3, 20, 4))
    assert m.shape == (3, 20, 3, 3)
    np.testing.assert_allclose(m.reshape(60, 3, 3).numpy(), R.from_quat(q).as_matrix(), atol=1e-12)
    # also for quaternions that are not unit: the same map as quat_rotate
    raw, v = t(RNG.normal(size=(40, 4))), t(RNG.normal(size=(40, 3)))
    rotated = (rot.quat_to_matrix(raw) * v.unsqueeze(-2)).sum(-1)
    np.testing.assert_allclose(rotated.numpy(), rot.quat_rotate(raw, v).numpy(), atol=1e-12)
    np.testing.assert_allclose(rot.yaw_from_matrix(rot.quat_to_matrix(t(q))).numpy(),
                               rot.yaw_from_quat(t(q)).numpy(), atol=1e-12)
    assert rot.quat_to_matrix(torch.tensor([0.0, 0.0, 0.0, 1.0])).equal(torch.eye(3))


def test_rotate_about_z_matches_scipy_and_broadcasts():
    angles, v = RNG.uniform(-np.pi, np.pi, size=8), RNG.normal(size=(8, 5, 3))
    out = rot.rotate_about_z(t(angles).unsqueeze(-1), t(v))  # one angle per row of 5 vectors
    expected = np.stack([R.from_euler("z", a).apply(v[i]) for i, a in enumerate(angles)])
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)
    # the heading frame: rotating by minus the yaw is rotating by the inverse heading quaternion
    q = t(random_quats(8))
    local = rot.rotate_about_z(-rot.yaw_from_quat(q).unsqueeze(-1), t(v))
    np.testing.assert_allclose(local.numpy(), rot.quat_rotate(rot.heading_quat_inverse(q).unsqueeze(1).expand(8, 5, 4),
                                                              t(v)).numpy(), atol=1e-12)
