"""PD gains from the motors' rotor inertia, as the field's G1 setups derive them: each joint's PD loop around its
reflected armature is a second-order system of natural frequency f and damping ratio zeta, so
kp = armature * (2 pi f)^2 and kd = 2 zeta armature (2 pi f); the action scale lets a full action ask for
`scale_factor` of the joint's effort limit from kp: scale = scale_factor * effort_limit / kp. Written into a spec by
`tools/robot_setup.py --gains_from_armature F ZETA`.
"""

from __future__ import annotations

import numpy as np

from awd.errors import AwdError


def armature_gains(spec, frequency_hz: float, damping_ratio: float,
                   scale_factor: float = 0.25) -> dict[str, np.ndarray]:
    """{kp, kd, action_scale} per joint of `spec` (a RobotSpec); every joint needs a positive armature."""
    if frequency_hz <= 0 or damping_ratio <= 0 or scale_factor <= 0:
        raise AwdError("command line", "--gains_from_armature", f"expected a positive frequency, damping ratio and "
                       f"scale factor, got {frequency_hz}, {damping_ratio}, {scale_factor}")
    bare = [name for name, armature in zip(spec.joint_names, spec.armature) if armature <= 0]
    if bare:
        raise AwdError(spec.spec_path, "joints.armature", f"gains from armature need every joint's armature > 0; "
                       f"{bare[:3]} have none")
    omega = 2.0 * np.pi * frequency_hz
    kp = spec.armature * omega ** 2
    kd = 2.0 * damping_ratio * spec.armature * omega
    return {"kp": kp, "kd": kd, "action_scale": scale_factor * spec.effort_limit / kp}
