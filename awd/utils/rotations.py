"""Batched quaternion math in torch. Quaternions are (x, y, z, w) everywhere (scipy's scalar-last order);
MuJoCo's (w, x, y, z) is converted at the engine boundary with `wxyz_to_xyzw` / `xyzw_to_wxyz`.
All functions broadcast over leading dimensions; the quaternion or vector is the last dimension."""

from __future__ import annotations

import torch

_EPS = 1e-9


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


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v by unit quaternions q (v' = q v q*)."""
    xyz, w = q[..., :3], q[..., 3:4]
    t = 2.0 * torch.cross(xyz.expand_as(v), v, dim=-1)
    return v + w * t + torch.cross(xyz.expand_as(v), t, dim=-1)


def quat_rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v by the inverse of unit quaternions q (world -> body frame)."""
    return quat_rotate(quat_conjugate(q), v)


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
    x, y, z, w = q.unbind(-1)
    return torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


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
    tangent = torch.zeros(q.shape[:-1] + (3,), dtype=q.dtype, device=q.device)
    normal = torch.zeros_like(tangent)
    tangent[..., 0] = 1.0
    normal[..., 2] = 1.0
    return torch.cat([quat_rotate(q, tangent), quat_rotate(q, normal)], dim=-1)
