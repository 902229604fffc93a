"""Build the MuJoCo model a simulation runs from a robot spec: the robot's MJCF plus a floor, PD position actuators
with the spec's gains and torque limits (in spec joint order), the spec's joint armature, damping and friction loss,
the spec's time step and the implicitfast integrator (needed for light robots). Actuators and keyframes the MJCF
brings (an official robot file has its own) are dropped: the spec is the one source of gains, limits and the default
pose."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mujoco
import numpy as np

if TYPE_CHECKING:  # annotations only: awd.robot.spec loads specs with this module's kinematics
    from awd.robot.spec import RobotSpec


def build_model_spec(spec: RobotSpec, floor: bool = True) -> mujoco.MjSpec:
    model_spec = mujoco.MjSpec.from_file(str(spec.mjcf_path))
    model_spec.option.timestep = spec.sim_dt
    model_spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    if floor and not any(g.type == mujoco.mjtGeom.mjGEOM_PLANE for g in model_spec.geoms):
        ground = model_spec.worldbody.add_geom()
        ground.name = "floor"
        ground.type = mujoco.mjtGeom.mjGEOM_PLANE
        ground.size = [0.0, 0.0, 0.05]
        ground.contype = 1
        ground.conaffinity = 1
        ground.condim = 3
        ground.rgba = [0.25, 0.35, 0.45, 1.0]
    for element in [*model_spec.actuators, *model_spec.keys]:
        model_spec.delete(element)
    lock_joints(model_spec, spec.locked_joints)
    for name, armature, damping, frictionloss in zip(spec.joint_names, spec.armature, spec.damping,
                                                     spec.frictionloss):
        joint = model_spec.joint(name)
        joint.armature, joint.frictionloss = float(armature), float(frictionloss)
        joint.damping = [float(damping), *joint.damping[1:]]   # linear coefficient (MuJoCo 4: polynomial damping)
    for name, kp, kd, limit in zip(spec.joint_names, spec.kp, spec.kd, spec.effort_limit):
        actuator = model_spec.add_actuator()
        actuator.name = name
        actuator.target = name
        actuator.trntype = mujoco.mjtTrn.mjTRN_JOINT
        actuator.set_to_position(kp=float(kp), kv=float(kd))
        actuator.ctrllimited = 0
        actuator.forcelimited = 1
        actuator.forcerange = [-float(limit), float(limit)]
    return model_spec


def lock_joints(model_spec: mujoco.MjSpec, locked) -> None:
    """Weld each (hinge name, angle) of `locked`: the joint is removed and its body turned by the angle (from the
    joint's reference) about the joint's axis through the joint's position, in its parent's frame."""
    if not locked:
        return
    compiled = model_spec.compile()
    for name, angle in locked:
        joint = compiled.joint(name)
        body = model_spec.body(compiled.body(joint.bodyid[0]).name)
        axis, centre = compiled.jnt_axis[joint.id], compiled.jnt_pos[joint.id]
        turn = np.zeros(4)
        mujoco.mju_axisAngle2Quat(turn, axis, angle - compiled.qpos0[compiled.jnt_qposadr[joint.id]])
        quat, rotated = compiled.body_quat[joint.bodyid[0]].copy(), np.zeros(3)
        mujoco.mju_rotVecQuat(rotated, centre, turn)
        offset = np.zeros(3)
        mujoco.mju_rotVecQuat(offset, centre - rotated, quat)
        combined = np.zeros(4)
        mujoco.mju_mulQuat(combined, quat, turn)
        body.alt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT
        body.pos, body.quat = compiled.body_pos[joint.bodyid[0]] + offset, combined
        model_spec.delete(model_spec.joint(name))


def kinematic_model(spec: RobotSpec) -> mujoco.MjModel:
    """The MJCF as the spec sees it (locked joints welded), for kinematics: no floor, actuators or spec physics."""
    model_spec = mujoco.MjSpec.from_file(str(spec.mjcf_path))
    lock_joints(model_spec, spec.locked_joints)
    return model_spec.compile()


def build_model(spec: RobotSpec, floor: bool = True) -> mujoco.MjModel:
    """Compile the simulation model; actuator i drives spec.joint_names[i] towards its ctrl target."""
    return build_model_spec(spec, floor).compile()


def joint_qpos_addresses(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    return np.array([model.jnt_qposadr[model.joint(name).id] for name in spec.joint_names])


def joint_dof_addresses(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    return np.array([model.jnt_dofadr[model.joint(name).id] for name in spec.joint_names])


def default_qpos(model: mujoco.MjModel, spec: RobotSpec) -> np.ndarray:
    """The standing pose: root at init height and orientation, joints at their defaults."""
    qpos = model.qpos0.copy()
    qpos[0:3] = [0.0, 0.0, spec.init_root_height]
    x, y, z, w = spec.init_root_quat
    qpos[3:7] = [w, x, y, z]
    qpos[joint_qpos_addresses(model, spec)] = spec.default_joint_pos
    return qpos
