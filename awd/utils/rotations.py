"""Batched quaternion math in torch. Quaternions are (x, y, z, w) everywhere (scipy's scalar-last order);
MuJoCo's (w, x, y, z) is converted at the engine boundary with `wxyz_to_xyzw` / `xyzw_to_wxyz`.
All functions broadcast over leading dimensions; the quaternion or vector is the last dimension.

The functions on the env's per-step path issue few torch ops (each op costs CPU launch time on a GPU):
`quat_to_matrix` builds all nine matrix entries from one outer product of q with a coefficient table (made once
per device and dtype, on the first call), and `rotate_about_z` turns the xy part of vectors as complex numbers.
No matrix product is used (TF32 would round it on a GPU)."""

from __future__ import annotations

import functools

import torch

_EPS = 1e-9

# Rotation-matrix entries R[i][j] (row-major) of q = (x, y, z, w) as constant + c1 q_a q_b + c2 q_c q_d
# (R = I (1 - 2|u|^2) + 2 u u^T + 2 w [u]x with u = (x, y, z), so also the map `quat_rotate` applies to q
# that are not unit); q indices x=0, y=1, z=2, w=3.
_MATRIX_TERMS = (
    (1.0, (1, 1, -2.0), (2, 2, -2.0)), (0.0, (0, 1, 2.0), (3, 2, -2.0)), (0.0, (0, 2, 2.0), (3, 1, 2.0)),
    (0.0, (0, 1, 2.0), (3, 2, 2.0)), (1.0, (0, 0, -2.0), (2, 2, -2.0)), (0.0, (1, 2, 2.0), (3, 0, -2.0)),
    (0.0, (0, 2, 2.0), (3, 1, -2.0)), (0.0, (1, 2, 2.0), (3, 0, 2.0)), (1.0, (0, 0, -2.0), (1, 1, -2.0)),
)


@functools.lru_cache(maxsize=None)
def _matrix_table(device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """products (18,): indices into the flattened outer product q q^T of the entries' first products, then of
    their second products; constants, first and second coefficients (9,) each."""
    products = [4 * a + b for k in (1, 2) for terms in _MATRIX_TERMS for a, b, _ in [terms[k]]]
    coefficients = [[terms[0] for terms in _MATRIX_TERMS]] + [[terms[k][2] for terms in _MATRIX_TERMS] for k in (1, 2)]
    return (torch.tensor(products, device=device),
            *torch.tensor(coefficients, device=device, dtype=dtype).unbind())


def wxyz_to_xyzw(q: torch.Tensor) -> torch.Tensor:
    return torch.cat([q[..., 1:4], q[..., 0:1]], dim=-1)


def xyzw_to_wxyz(q: torch.Tensor) -> torch.Tensor:
    return torch.cat([q[..., 3:4], q[..., 0:3]], dim=-1)


def quat_normalize(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def quat_conjugate(q: torch.Tensor) -> torch.Tensor:
    return torch.cat([-q[..., :3], q[..., 3:4]], dim=-1)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a * b (apply b first, then a)."""
    ax, ay, az, aw = a.unbind(-1)
    bx, by, bz, bw = b.unbind(-1)
    return torch.stack([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ], dim=-1)


def rotate_by_parts(w, u, v, cross):
    """v + 2w (u x v) + u x (2 u x v): v rotated by the unit quaternion with scalar part w and vector part u. The
    one formula behind every quaternion rotation in awd: torch here (xyzw and MuJoCo's wxyz order), numpy in the
    CPU engine (`cross` = np.cross)."""
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.cross(a, b, dim=-1)


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v by unit quaternions q (x, y, z, w) (v' = q v q*)."""
    return rotate_by_parts(q[..., 3:4], q[..., :3].expand_as(v), v, _cross)


def quat_rotate_wxyz(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v by unit quaternions q in MuJoCo's order (w, x, y, z)."""
    return rotate_by_parts(q[..., :1], q[..., 1:], v, _cross)


def quat_rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v by the inverse of unit quaternions q (world -> body frame)."""
    return quat_rotate(quat_conjugate(q), v)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) of quaternions q (..., 4): R v = quat_rotate(q, v); column 0 is the rotated
    x axis, row 2 the world z axis in the body frame."""
    products, constants, first, second = _matrix_table(q.device, q.dtype)
    outer = (q.unsqueeze(-1) * q.unsqueeze(-2)).reshape(-1, 16)  # 2-D: index_select on the last dim is fast
    a, b = outer.index_select(-1, products).view(*q.shape[:-1], 2, 9).unbind(-2)
    return torch.addcmul(torch.addcmul(constants, a, first), b, second).unflatten(-1, (3, 3))


def rotate_about_z(angle: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectors v (..., 3) rotated by `angle` radians about the z axis; `angle` broadcasts against v[..., 0]."""
    turn = torch.polar(torch.ones_like(angle), angle)
    x, y, z = v.unbind(-1)
    return torch.cat([torch.view_as_real(torch.complex(x, y) * turn), z.unsqueeze(-1)], dim=-1)


def quat_from_axis_angle(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Quaternion for a rotation of `angle` (...) radians about `axis` (..., 3) (normalised here)."""
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    half = 0.5 * angle.unsqueeze(-1)
    return torch.cat([axis * torch.sin(half), torch.cos(half)], dim=-1)


def quat_from_rotation_vector(rotvec: torch.Tensor) -> torch.Tensor:
    """Quaternion from a rotation vector (axis * angle), exact near zero."""
    angle = rotvec.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    # sin(half) / angle, with its Taylor series near zero
    scale = torch.where(angle > 1e-6, torch.sin(half) / angle.clamp_min(1e-12), 0.5 - angle * angle / 48.0)
    return torch.cat([rotvec * scale, torch.cos(half)], dim=-1)


def quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """Rotation vector (axis * angle, angle in [0, pi]) of unit quaternions, shape (..., 3)."""
    q = torch.where(q[..., 3:4] < 0, -q, q)  # shortest rotation
    xyz, w = q[..., :3], q[..., 3:4]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, w)
    scale = torch.where(sin_half > 1e-6, angle / sin_half.clamp_min(1e-12), 2.0 / w.clamp_min(1e-12))
    return xyz * scale


def quat_slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation along the shortest arc; t = 0 gives q0, t = 1 gives q1 (up to sign)."""
    if not torch.is_tensor(t):
        t = torch.tensor(t, dtype=q0.dtype, device=q0.device)
    t = t.to(q0.dtype)
    if t.dim() == q0.dim() - 1:
        t = t.unsqueeze(-1)
    cos_theta = (q0 * q1).sum(dim=-1, keepdim=True)
    q1 = torch.where(cos_theta < 0, -q1, q1)
    cos_theta = cos_theta.abs().clamp(max=1.0)
    theta = torch.acos(cos_theta)
    sin_theta = torch.sin(theta)
    close = sin_theta < 1e-6
    safe_sin = torch.where(close, torch.ones_like(sin_theta), sin_theta)
    w0 = torch.where(close, 1.0 - t, torch.sin((1.0 - t) * theta) / safe_sin)
    w1 = torch.where(close, t, torch.sin(t * theta) / safe_sin)
    return quat_normalize(w0 * q0 + w1 * q1)


def quat_from_euler_xyz(roll: torch.Tensor, pitch: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """Quaternion of extrinsic x-y-z rotations (roll about x, then pitch about y, then yaw about z, all
    about the fixed world axes), i.e. q = qz(yaw) * qy(pitch) * qx(roll); scipy: from_euler("xyz", ...)."""
    cr, sr = torch.cos(roll * 0.5), torch.sin(roll * 0.5)
    cp, sp = torch.cos(pitch * 0.5), torch.sin(pitch * 0.5)
    cy, sy = torch.cos(yaw * 0.5), torch.sin(yaw * 0.5)
    return torch.stack([
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    ], dim=-1)


def yaw_from_quat(q: torch.Tensor) -> torch.Tensor:
    """Heading angle in (-pi, pi]: the yaw of the body x axis projected onto the ground plane."""
    return yaw_from_matrix(quat_to_matrix(q))


def yaw_from_matrix(matrix: torch.Tensor) -> torch.Tensor:
    """`yaw_from_quat` of the quaternion of rotation matrices (..., 3, 3)."""
    x_axis = matrix[..., 0].unbind(-1)
    return torch.atan2(x_axis[1], x_axis[0])


def heading_quat(q: torch.Tensor) -> torch.Tensor:
    """Rotation about world z by the heading of q."""
    yaw = yaw_from_quat(q)
    zeros = torch.zeros_like(yaw)
    return torch.stack([zeros, zeros, torch.sin(0.5 * yaw), torch.cos(0.5 * yaw)], dim=-1)


def heading_quat_inverse(q: torch.Tensor) -> torch.Tensor:
    """Inverse of `heading_quat` (world -> heading frame)."""
    return quat_conjugate(heading_quat(q))


def quat_to_tan_norm(q: torch.Tensor) -> torch.Tensor:
    """6-D rotation encoding: the rotated x axis (tangent) and z axis (normal), concatenated."""
    return quat_to_matrix(q).transpose(-1, -2)[..., ::2, :].flatten(-2)
