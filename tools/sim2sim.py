#!/usr/bin/env python
"""Sim2sim: run an exported policy in CPU MuJoCo from the export folder and the robot's MJCF alone, and report
survival and velocity tracking as the evaluator (awd/evaluate.py) does for the checkpoint.

    python tools/sim2sim.py EXPORT_DIR [--mjcf ROBOT.xml] [--num_envs 64] [--command VX VY WZ] [--json out.json]

Only mujoco, numpy, onnxruntime and `policy.json` are used: this file imports nothing from awd, so it is also
a reference for deployment code. From the metadata it rebuilds
  * the simulation: the MJCF with the export's physics step and integrator, a floor when the MJCF has none,
    the joints' armature, damping and friction loss when the export lists them, the `joints.locked` hinges welded
    at their angles, and one PD position actuator per joint (kp, kd, torque limit) in action order;
  * the observation: each part of `observation.parts` in order, (quantity - offset) * scale, from the joint
    state, the trunk orientation, the last action, the command and the gait clock (`gait_phase`, counted from the
    start; (0, 0) at the zero command with `commands.gait_off_at_zero`), delayed as `observation.delay_steps` says;
  * the action: target = default_pos + scale * clip(action, -1, 1), delayed as `action.delay_steps` says, held
    for `control.decimation` physics steps.
Episodes follow the evaluator: every env starts from the default standing pose, gets a new command every
`--resample_s` s (uniform in the export's command ranges, small parts and a `--zero_prob` share zeroed) and runs
`--episode_s` s; a fall (trunk or head below its height, or a non-foot body on the floor, after the grace
steps) or a simulator warning ends it. Velocities are averaged over `commands.velocity_window_s` in the yaw
frame, and the first `--settle_s` s after each command change are left out of the errors. Commands are drawn
from numpy's generator, not the env's, so the numbers agree with the evaluator's statistically, not exactly.
Action and observation delays are reproduced (drawn per episode as in training); other training randomisation
(pushes, friction, masses, torque scale, observation noise) is not: the run uses the nominal model and says so.
It passes on the task's verdict thresholds in `policy.json` (`env_config.env.verdict`: survival, planar and
yaw error), as the evaluator judges the checkpoint. Exit code 0 whether the policy passes or not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import mujoco
import numpy as np
import onnxruntime as ort

FORMAT = "awd-policy"
JOINT_PHYSICS = ("armature", "damping", "frictionloss")
QUANTITIES = ("projected_gravity", "joint_pos", "joint_vel", "last_action", "commands", "foot_contacts",
              "height_target_offset", "gait_phase")


class Sim2SimError(ValueError):
    """Bad input: a missing or inconsistent export folder or MJCF (one line naming the file and the field)."""


@dataclass(frozen=True)
class Settings:
    num_envs: int = 64
    episode_s: float = 20.0
    resample_s: float = 5.0
    zero_prob: float = 0.1  # share of stand commands, the evaluator's (not the run's training share)
    settle_s: float = 1.0
    seed: int = 0
    command: tuple[float, float, float] | None = None  # fixed command instead of sampled ones
    min_survival: float | None = None  # None: the task's verdict in policy.json (env_config.env.verdict), as the
    max_planar_error: float | None = None  # evaluator judges its checkpoint; for an export without one,
    max_yaw_error: float | None = None  # FALLBACK_THRESHOLDS


FALLBACK_THRESHOLDS = {"survival": 0.95, "planar_error": 0.05, "yaw_error": 0.15}


def with_task_thresholds(settings: Settings, metadata: dict, path: Path) -> Settings:
    """`settings` with each threshold it leaves open taken from the export's task verdict."""
    verdict = ((metadata.get("env_config") or {}).get("env") or {}).get("verdict") or {}
    chosen = {}
    for field, key in (("min_survival", "survival"), ("max_planar_error", "planar_error"),
                       ("max_yaw_error", "yaw_error")):
        value = getattr(settings, field)
        if value is None:
            value = verdict.get(key, FALLBACK_THRESHOLDS[key])
            if not _is_number(value):
                raise Sim2SimError(f"{path}: env_config.env.verdict.{key}: expected a finite number, found {value!r}")
        chosen[field] = float(value)
    return replace(settings, **chosen)


# ------------------------------------------------------------------------------------------------ export folder


def load_export(folder: str | Path) -> tuple[dict, ort.InferenceSession]:
    """(policy.json, an ONNX Runtime session of policy.onnx) of an export folder."""
    folder = Path(folder)
    path = folder / "policy.json"
    if not path.is_file():
        raise Sim2SimError(f"{path}: file not found (expected an export folder written by tools/export.py)")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise Sim2SimError(f"{path}: invalid JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else type(metadata).__name__
        raise Sim2SimError(f"{path}: format: expected {FORMAT!r}, found {found!r}")
    check_contract(path, metadata)
    unknown = [part["name"] for part in metadata["observation"]["parts"] if part["name"] not in QUANTITIES]
    if unknown:
        raise Sim2SimError(f"{path}: observation.parts: unknown part {unknown[0]!r} (this tool knows {QUANTITIES})")
    onnx_path = folder / metadata["files"]["onnx"]
    if not onnx_path.is_file():
        raise Sim2SimError(f"{onnx_path}: file not found (files.onnx of {path})")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    takes = session.get_inputs()[0].shape[-1]
    if takes != metadata["io"]["obs_size"]:
        raise Sim2SimError(f"{path}: io.obs_size: {metadata['io']['obs_size']} disagrees with {onnx_path.name}, "
                           f"which takes {takes} observations")
    return metadata, session


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _numbers(count: int | None = None):
    return lambda v: isinstance(v, list) and (count is None or len(v) == count) and all(map(_is_number, v))


def _field(path: Path, metadata: dict, dotted: str):
    node = metadata
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise Sim2SimError(f"{path}: {dotted}: missing")
        node = node[key]
    return node


def check_contract(path: Path, metadata: dict) -> None:
    """Every policy.json field this tool reads has its type and range (one-line Sim2SimError otherwise)."""
    def need(dotted: str, ok, expected: str):
        value = _field(path, metadata, dotted)
        if not ok(value):
            raise Sim2SimError(f"{path}: {dotted}: expected {expected}, found {json.dumps(value)[:80]}")

    integrators = [name[6:].lower() for name in dir(mujoco.mjtIntegrator) if name.startswith("mjINT_")]
    need("control.sim_dt", lambda v: _is_number(v) and v > 0, "a positive number (s)")
    need("control.decimation", lambda v: _is_count(v, 1), "an integer >= 1")
    need("control.integrator", lambda v: isinstance(v, str) and v.lower() in integrators, f"one of {integrators}")
    need("joints.names", lambda v: isinstance(v, list) and v and all(isinstance(n, str) for n in v), "joint names")
    count = len(metadata["joints"]["names"])
    for key in ("default_pos", "kp", "kd", "effort_limit"):
        need(f"joints.{key}", _numbers(count), f"{count} numbers")
    for key in JOINT_PHYSICS:   # exports before these fields keep the MJCF's values
        if key in metadata["joints"]:
            need(f"joints.{key}", lambda v: _numbers(count)(v) and min(v) >= 0, f"{count} non-negative numbers")
    if "locked" in metadata["joints"]:
        need("joints.locked", lambda v: isinstance(v, list) and all(
            isinstance(e, dict) and isinstance(e.get("name"), str) and _is_number(e.get("angle")) for e in v),
            "a list of {name, angle}")
    need("action.scale", lambda v: _is_number(v) or _numbers(count)(v), f"a number or {count} numbers")
    for key in ("action.delay_steps", "observation.delay_steps"):
        need(key, lambda v: isinstance(v, list) and len(v) == 2 and all(_is_count(n) for n in v), "[min, max] steps")
    need("io.obs_size", lambda v: _is_count(v, 1), "an integer >= 1")
    need("io.action_size", lambda v: v == count, f"{count} (the joint count)")
    parts = _field(path, metadata, "observation.parts")
    start = 0
    for index, part in enumerate(parts if isinstance(parts, list) else [None]):
        size = part.get("size") if isinstance(part, dict) else None
        if not (_is_count(size) and part.get("start") == start and isinstance(part.get("name"), str)
                and _numbers(size)(part.get("scale")) and _numbers(size)(part.get("offset"))):
            raise Sim2SimError(f"{path}: observation.parts[{index}]: expected name, start {start}, size, and scale "
                               f"and offset of that size, found {json.dumps(part)[:80]}")
        start += size
    need("io.obs_size", lambda v: v == start, f"{start} (the observation parts' sizes)")
    if any(isinstance(part, dict) and part.get("name") == "gait_phase" for part in parts):
        need("commands.gait_period_s", lambda v: _is_number(v) and v > 0, "a positive period (s) for gait_phase")
        if "gait_off_at_zero" in (metadata.get("commands") or {}):
            need("commands.gait_off_at_zero", lambda v: isinstance(v, bool), "true or false")
    need("robot.init_root_height", _is_number, "a number (m)")
    need("robot.init_root_quat_xyzw", _numbers(4), "4 numbers")


def resolve_mjcf(metadata: dict, mjcf: str | Path | None, folder: str | Path = ".") -> Path:
    """The MJCF given, else the one the export carries (`robot.mjcf`, relative to the export folder; every file of
    `robot.files` must match its sha256); a given file that differs from the exported one is allowed (a sim2sim
    check against a changed model) but reported on stderr."""
    robot = metadata["robot"]
    path = Path(mjcf) if mjcf else Path(folder) / robot["mjcf"]
    if not mjcf:
        for name, digest in robot.get("files", {}).items():
            carried = Path(folder) / name
            if not carried.is_file() or hashlib.sha256(carried.read_bytes()).hexdigest() != digest:
                raise Sim2SimError(f"{carried}: robot.files: missing or not the exported file (sha256 differs)")
    if not path.is_file():
        raise Sim2SimError(f"{path}: robot.mjcf: file not found (pass the robot's MJCF with --mjcf)")
    if hashlib.sha256(path.read_bytes()).hexdigest() != robot["mjcf_sha256"]:
        print(f"sim2sim: note: {path} differs from the MJCF the policy was exported with", file=sys.stderr)
    return path


def build_model(metadata: dict, mjcf: Path) -> mujoco.MjModel:
    """The MJCF with the export's physics step and integrator, a floor if it has none, the export's joint armature,
    damping and friction loss, and PD position actuators (kp, kv = kd, torque limit) in action order."""
    control, joints = metadata["control"], metadata["joints"]
    spec = mujoco.MjSpec.from_file(str(mjcf))
    spec.option.timestep = control["sim_dt"]
    spec.option.integrator = getattr(mujoco.mjtIntegrator, f"mjINT_{control['integrator'].upper()}")
    if not any(geom.type == mujoco.mjtGeom.mjGEOM_PLANE for geom in spec.geoms):
        rule = control.get("floor", {"size": [0.0, 0.0, 0.05], "contype": 1, "conaffinity": 1, "condim": 3})
        floor = spec.worldbody.add_geom()
        floor.name, floor.type, floor.size = "floor", mujoco.mjtGeom.mjGEOM_PLANE, rule["size"]
        floor.contype, floor.conaffinity, floor.condim = rule["contype"], rule["conaffinity"], rule["condim"]
        if "friction" in rule:
            floor.friction = rule["friction"]
    for actuator in list(spec.actuators):
        spec.delete(actuator)
    lock_joints(spec, joints.get("locked", []), mjcf)
    for key in JOINT_PHYSICS:
        for name, value in zip(joints["names"], joints.get(key, ())):
            joint = spec.joint(name)
            if key == "damping":
                joint.damping = [value, *joint.damping[1:]]   # linear coefficient (MuJoCo 4: polynomial damping)
            else:
                setattr(joint, key, value)
    for name, kp, kd, limit in zip(joints["names"], joints["kp"], joints["kd"], joints["effort_limit"]):
        actuator = spec.add_actuator()
        actuator.name, actuator.target, actuator.trntype = name, name, mujoco.mjtTrn.mjTRN_JOINT
        actuator.set_to_position(kp=kp, kv=kd)
        actuator.ctrllimited, actuator.forcelimited, actuator.forcerange = 0, 1, [-limit, limit]
    try:
        return spec.compile()
    except ValueError as error:
        raise Sim2SimError(f"{mjcf}: does not compile with the export's actuators ({error})") from None


def lock_joints(spec: mujoco.MjSpec, locked: list, mjcf: Path) -> None:
    """Weld each {name, angle} hinge: the joint removed, its body turned by the angle (from the joint's reference)
    about the joint's axis through the joint's position."""
    if not locked:
        return
    compiled = spec.compile()
    for entry in locked:
        if mujoco.mj_name2id(compiled, mujoco.mjtObj.mjOBJ_JOINT, entry["name"]) < 0:
            raise Sim2SimError(f"{mjcf}: joints.locked: no joint named {entry['name']!r} in the MJCF")
        joint = compiled.joint(entry["name"])
        body_id = joint.bodyid[0]
        turn, rotated, offset, combined = np.zeros(4), np.zeros(3), np.zeros(3), np.zeros(4)
        mujoco.mju_axisAngle2Quat(turn, compiled.jnt_axis[joint.id],
                                  entry["angle"] - compiled.qpos0[compiled.jnt_qposadr[joint.id]])
        mujoco.mju_rotVecQuat(rotated, compiled.jnt_pos[joint.id], turn)
        mujoco.mju_rotVecQuat(offset, compiled.jnt_pos[joint.id] - rotated, compiled.body_quat[body_id])
        mujoco.mju_mulQuat(combined, compiled.body_quat[body_id], turn)
        body = spec.body(compiled.body(body_id).name)
        body.alt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT
        body.pos, body.quat = compiled.body_pos[body_id] + offset, combined
        spec.delete(spec.joint(entry["name"]))


# ------------------------------------------------------------------------------------------------ robots


def _gravity_in_trunk(quat: np.ndarray) -> np.ndarray:
    """(N, 3) gravity direction (0, 0, -1) in the trunk frame of MuJoCo (w, x, y, z) quaternions (N, 4)."""
    w, x, y, z = quat.T
    return -np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def _rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """(N, 3) vectors rotated by (w, x, y, z) quaternions."""
    u = quat[:, 1:]
    t = 2.0 * np.cross(u, vec)
    return vec + quat[:, :1] * t + np.cross(u, t)


def _yaw(quat: np.ndarray) -> np.ndarray:
    w, x, y, z = quat.T
    return np.arctan2(2 * (x * y + w * z), 1 - 2 * (y * y + z * z))


class Robots:
    """`num_envs` robots in one MjModel, one MjData each, driven by policy actions as the export describes."""

    def __init__(self, model: mujoco.MjModel, metadata: dict, num_envs: int, rng: np.random.Generator):
        self.model, self.metadata, self.num_envs, self.rng = model, metadata, num_envs, rng
        joints, robot, control = metadata["joints"], metadata["robot"], metadata["control"]
        self.decimation, self.dt = int(control["decimation"]), float(control["control_dt"])
        ids = [model.joint(name).id for name in joints["names"]]
        self.qadr, self.dadr = model.jnt_qposadr[ids], model.jnt_dofadr[ids]
        key = "root_body" if "root_body" in robot else "trunk_body"   # exports before root_body: the trunk
        root = model.body(robot[key]).id
        free = [j for j in range(model.njnt)
                if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE and model.jnt_bodyid[j] == root]
        if not free:
            raise Sim2SimError(f"robot.{key}: {robot[key]!r} has no free joint in the MJCF")
        self.root_q, self.root_v = model.jnt_qposadr[free[0]], model.jnt_dofadr[free[0]]
        self.head = model.body(robot["head_body"]).id if robot.get("head_body") else None
        x, y, z, w = robot.get("trunk_in_root_quat_xyzw", [0.0, 0.0, 0.0, 1.0])   # the trunk's fixed turn
        turn = np.zeros(9)
        mujoco.mju_quat2Mat(turn, np.array([w, x, y, z], dtype=np.float64))
        self.trunk_in_root = turn.reshape(3, 3)
        self.geom_kind = self._geom_kinds(robot)
        self.default_pos = np.asarray(joints["default_pos"], dtype=np.float32)
        self.action_scale = np.asarray(metadata["action"]["scale"], dtype=np.float32)  # one, or one per joint
        window = max(1, round(metadata["commands"]["velocity_window_s"] / self.dt)) if metadata["commands"] else 1
        self.velocity_history = np.zeros((num_envs, window, 2, 3))
        self.datas = [mujoco.MjData(model) for _ in range(num_envs)]
        self.alive = np.ones(num_envs, dtype=bool)

    def _geom_kinds(self, robot: dict) -> np.ndarray:
        """Per geom: 0 floor (a plane of the world), 1 left foot, 2 right foot, 3 other robot part, -1 anything else."""
        m = self.model
        feet = [m.body(name).id for name in robot.get("foot_contact_bodies", robot["foot_bodies"])]
        kinds = np.full(m.ngeom, -1)
        for g in range(m.ngeom):
            body = m.geom_bodyid[g]
            if body == 0:
                kinds[g] = 0 if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_PLANE else -1
                continue
            kinds[g] = 3
            while body != 0:
                if body in feet:
                    kinds[g] = 1 + feet.index(body)
                    break
                body = m.body_parentid[body]
        return kinds

    def reset(self) -> None:
        """Every robot at the default standing pose, at rest; buffers cleared, delays drawn."""
        robot, n = self.metadata["robot"], self.num_envs
        x, y, z, w = robot["init_root_quat_xyzw"]
        for d in self.datas:
            mujoco.mj_resetData(self.model, d)
            d.qpos[self.root_q:self.root_q + 3] = [0.0, 0.0, robot["init_root_height"]]
            d.qpos[self.root_q + 3:self.root_q + 7] = [w, x, y, z]
            d.qpos[self.qadr] = self.default_pos.astype(np.float64)
            d.ctrl[:] = d.qpos[self.qadr]
            mujoco.mj_forward(self.model, d)
        self.progress = 0
        self.alive[:] = True
        self.actions = np.zeros((n, len(self.qadr)), dtype=np.float32)
        self.action_delay, self.action_buffer = self._delay_buffer(self.metadata["action"]["delay_steps"], self.actions)
        self.obs_delay, self.obs_buffer = self._delay_buffer(self.metadata["observation"]["delay_steps"], None)
        self._read_state()
        self.velocity_history[:] = self._root_velocities()[:, None]

    def _delay_buffer(self, steps: list[int], first):
        """Per-env delays drawn in [min, max] and an empty history (newest first) of max + 1 entries."""
        delay = self.rng.integers(steps[0], steps[1] + 1, self.num_envs)
        return delay, None if first is None else np.repeat(first[:, None], steps[1] + 1, axis=1)

    def _read_state(self) -> None:
        self.qpos = np.stack([d.qpos for d in self.datas])
        self.qvel = np.stack([d.qvel for d in self.datas])

    @property
    def root_quat(self) -> np.ndarray:
        return self.qpos[:, self.root_q + 3:self.root_q + 7]

    def _root_velocities(self) -> np.ndarray:
        """(N, 2, 3) world-frame root linear and angular velocity (MuJoCo's free-joint angular one is local)."""
        lin = self.qvel[:, self.root_v:self.root_v + 3]
        ang = _rotate(self.root_quat, self.qvel[:, self.root_v + 3:self.root_v + 6])
        return np.stack([lin, ang], axis=1)

    def _contacts(self) -> np.ndarray:
        """(N, 3) bool: left foot, right foot, another robot part touching the floor."""
        touching = np.zeros((self.num_envs, 3), dtype=bool)
        for i, d in enumerate(self.datas):
            kinds = self.geom_kind[d.contact.geom[:d.ncon]]
            floor_pairs = kinds[(kinds == 0).any(axis=1)].max(axis=1)
            touching[i] = [(floor_pairs == k).any() for k in (1, 2, 3)]
        return touching

    def observations(self, commands: np.ndarray) -> np.ndarray:
        """(N, obs_size) float32 policy observations, part by part as observation.parts says."""
        quantities = {
            "projected_gravity": _gravity_in_trunk(self.root_quat) @ self.trunk_in_root,
            "joint_pos": self.qpos[:, self.qadr], "joint_vel": self.qvel[:, self.dadr],
            "last_action": self.actions, "commands": commands,
            "foot_contacts": self._contacts()[:, :2].astype(np.float64),
            "height_target_offset": np.zeros((self.num_envs, 1)),
            "gait_phase": self._gait_phase(commands),
        }
        obs = np.concatenate([(quantities[p["name"]] - np.asarray(p["offset"])) * np.asarray(p["scale"])
                              for p in self.metadata["observation"]["parts"]], axis=-1).astype(np.float32)
        self.obs_buffer = (np.repeat(obs[:, None], self.obs_delay.max() + 1, axis=1) if self.obs_buffer is None
                           else np.concatenate([obs[:, None], self.obs_buffer[:, :-1]], axis=1))
        return self.obs_buffer[np.arange(self.num_envs), self.obs_delay]

    def _gait_phase(self, commands: np.ndarray) -> np.ndarray:
        """(N, 2) the gait clock (sin, cos of 2 pi phase), phase = frac(steps * control_dt / commands.gait_period_s);
        with commands.gait_off_at_zero, (0, 0) where the command's norm is below 1e-3."""
        settings = self.metadata["commands"] or {}
        period = settings.get("gait_period_s", 0.0)   # checked > 0 where it is observed
        angle = 2.0 * np.pi * ((self.progress * self.dt / period) % 1.0 if period > 0 else 0.0)
        phase = np.tile([np.sin(angle), np.cos(angle)], (self.num_envs, 1))
        if settings.get("gait_off_at_zero", False):
            phase = phase * (np.linalg.norm(commands, axis=-1, keepdims=True) >= 1e-3)
        return phase

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Apply one policy step; returns (N,) bool: robots that fell or whose simulation failed this step."""
        self.actions = np.clip(actions, -1.0, 1.0).astype(np.float32)
        self.action_buffer = np.concatenate([self.actions[:, None], self.action_buffer[:, :-1]], axis=1)
        applied = self.action_buffer[np.arange(self.num_envs), self.action_delay]
        targets = (self.default_pos + self.action_scale * applied).astype(np.float64)
        failed = np.zeros(self.num_envs, dtype=bool)
        for i in np.flatnonzero(self.alive):
            d = self.datas[i]
            d.ctrl[:] = targets[i]
            mujoco.mj_step(self.model, d, self.decimation)
            mujoco.mj_forward(self.model, d)
            failed[i] = d.warning.number.any() or not np.isfinite(d.qpos).all()
        self.progress += 1
        self._read_state()
        self.velocity_history = np.concatenate([self._root_velocities()[:, None], self.velocity_history[:, :-1]], 1)
        return (self._fell() | failed) & self.alive

    def _fell(self) -> np.ndarray:
        rule = self.metadata["termination"]
        if self.progress <= rule["grace_steps"]:
            return np.zeros(self.num_envs, dtype=bool)
        fell = self.qpos[:, self.root_q + 2] < rule["trunk_height"]
        if self.head is not None and rule["head_height"] > 0:
            fell |= np.array([d.xpos[self.head, 2] for d in self.datas]) < rule["head_height"]
        if rule.get("max_tilt", 0.0) > 0:   # the root's z axis from vertical: R[2, 2] = 1 - 2 (x^2 + y^2)
            w, x, y, z = self.root_quat.T
            fell |= 1.0 - 2.0 * (x * x + y * y) < np.cos(rule["max_tilt"])
        if rule["non_foot_contact"]:
            fell |= self._contacts()[:, 2]
        return fell

    def tracking_velocities(self) -> tuple[np.ndarray, np.ndarray]:
        """(lin, ang) (N, 3) root velocities averaged over the window, in the current yaw frame."""
        mean = self.velocity_history.mean(axis=1)
        yaw = _yaw(self.root_quat)
        cos, sin = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        rotated = [np.stack([cos[:, 0] * v[:, 0] + sin[:, 0] * v[:, 1], -sin[:, 0] * v[:, 0] + cos[:, 0] * v[:, 1],
                             v[:, 2]], axis=-1) for v in (mean[:, 0], mean[:, 1])]
        return rotated[0], rotated[1]


# ------------------------------------------------------------------------------------------------ episodes


def sample_commands(commands: dict, count: int, zero_prob: float, rng: np.random.Generator) -> np.ndarray:
    """(count, 3) commands as the task samples them: uniform in the ranges, small planar or yaw parts zeroed,
    a `zero_prob` share all zero."""
    low, high = np.array(commands["ranges"], dtype=np.float64).T
    sampled = low + (high - low) * rng.random((count, 3))
    planar_small = np.linalg.norm(sampled[:, :2], axis=-1) < commands["small_lin_vel"]
    sampled[planar_small, :2] = 0.0
    sampled[np.abs(sampled[:, 2]) < commands["small_ang_vel"], 2] = 0.0
    sampled[rng.random(count) < zero_prob] = 0.0
    return sampled


def run_episodes(robots: Robots, policy: ort.InferenceSession, settings: Settings) -> dict:
    """One synchronous episode per robot, measured like the evaluator."""
    metadata, n, dt = robots.metadata, robots.num_envs, robots.dt
    episode_steps = max(1, round(settings.episode_s / dt))
    resample_steps, settle_steps = max(1, round(settings.resample_s / dt)), round(settings.settle_s / dt)
    input_name, output_name = metadata["io"]["input"], metadata["io"]["output"]
    new_commands = (lambda: np.tile(settings.command, (n, 1))) if settings.command else (
        lambda: sample_commands(metadata["commands"], n, settings.zero_prob, robots.rng))
    commands = new_commands() if metadata["commands"] else np.zeros((n, 3))
    robots.reset()
    obs = robots.observations(commands)
    env_steps, tracked, planar, yaw = 0, 0, 0.0, 0.0
    for step in range(episode_steps):
        current = commands
        if metadata["commands"] and (step + 1) % resample_steps == 0 and step + 1 < episode_steps:
            commands = new_commands()
        terminated = robots.step(policy.run([output_name], {input_name: obs})[0])
        env_steps += int(robots.alive.sum())
        robots.alive &= ~terminated
        if step % resample_steps >= settle_steps:
            lin, ang = robots.tracking_velocities()
            alive = robots.alive
            tracked += int(alive.sum())
            planar += float(np.linalg.norm(lin[alive, :2] - current[alive, :2], axis=-1).sum())
            yaw += float(np.abs(ang[alive, 2] - current[alive, 2]).sum())
        obs = robots.observations(commands)
    survivors = int(robots.alive.sum())
    return {"episodes": n, "falls": n - survivors, "survival": survivors / n, "env_steps": env_steps,
            "tracked_steps": tracked, "planar_error": planar / tracked if tracked else None,
            "yaw_error": yaw / tracked if tracked else None}


def sim2sim(folder: str | Path, settings: Settings = Settings(), mjcf: str | Path | None = None) -> dict:
    """Run the export in `folder` and return the metrics, the verdicts and the settings."""
    start = time.perf_counter()
    metadata, policy = load_export(folder)
    settings = with_task_thresholds(settings, metadata, Path(folder) / "policy.json")
    if settings.command and not metadata["commands"]:
        raise Sim2SimError(f"{folder}: commands: task {metadata['task']} takes no commands (drop --command)")
    model = build_model(metadata, resolve_mjcf(metadata, mjcf, folder))
    robots = Robots(model, metadata, settings.num_envs, np.random.default_rng(settings.seed))
    result = {"export": str(folder), "task": metadata["task"], **run_episodes(robots, policy, settings),
              "not_reproduced": [name for name in metadata["training_randomization"] if not name.endswith("_delay")]}
    verdicts = {"survival": result["survival"] >= settings.min_survival,
                "planar_error": (result["planar_error"] is not None
                                 and result["planar_error"] <= settings.max_planar_error),
                "yaw_error": result["yaw_error"] is not None and result["yaw_error"] <= settings.max_yaw_error}
    result.update({"pass": verdicts, "passed": all(verdicts.values()), "settings": asdict(settings),
                   "wall_s": time.perf_counter() - start})
    return result


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON through a temporary file and a rename, so that readers never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def format_table(result: dict) -> str:
    s, verdict = result["settings"], result["pass"]
    mark = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    number = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    return "\n".join([
        f"sim2sim {result['export']} ({result['task']}, CPU MuJoCo, ONNX Runtime)", "",
        "| metric | value | threshold | pass |", "| --- | ---: | ---: | :---: |",
        f"| survival | {result['survival']:.3f} ({result['episodes'] - result['falls']}/{result['episodes']}) "
        f"| >= {s['min_survival']} | {mark(verdict['survival'])} |",
        f"| planar velocity error (m/s) | {number(result['planar_error'])} | <= {s['max_planar_error']} "
        f"| {mark(verdict['planar_error'])} |",
        f"| yaw-rate error (rad/s) | {number(result['yaw_error'])} | <= {s['max_yaw_error']} "
        f"| {mark(verdict['yaw_error'])} |", "",
        f"{result['episodes']} episodes of {s['episode_s']:g} s, commands every {s['resample_s']:g} s "
        f"({s['zero_prob']:g} of them stand), first {s['settle_s']:g} s after each left out; "
        f"env-steps {result['env_steps']:,} ({result['tracked_steps']:,} "
        f"tracked), {result['wall_s']:.1f} s",
        f"verdict: {'PASS' if result['passed'] else 'FAIL'}",
        *([f"note: training randomised {', '.join(result['not_reproduced'])}; this run uses the nominal model "
           "(the evaluator keeps the randomisation, so its numbers may differ)"] if result["not_reproduced"] else [])])


def parse_args(argv=None) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Settings()
    parser.add_argument("export_dir", help="a folder written by tools/export.py")
    parser.add_argument("--mjcf", help="the robot's MJCF (default: the one named in policy.json)")
    parser.add_argument("--num_envs", type=int, default=defaults.num_envs, help="episodes, run side by side")
    parser.add_argument("--episode_s", type=float, default=defaults.episode_s)
    parser.add_argument("--resample_s", type=float, default=defaults.resample_s, help="command period (s)")
    parser.add_argument("--zero_prob", type=float, default=defaults.zero_prob, help="share of stand commands")
    parser.add_argument("--settle_s", type=float, default=defaults.settle_s)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--command", type=float, nargs=3, metavar=("VX", "VY", "WZ"), help="a fixed command")
    parser.add_argument("--min_survival", type=float, help="default: the task's verdict.survival")
    parser.add_argument("--max_planar_error", type=float, help="m/s; default: the task's verdict.planar_error")
    parser.add_argument("--max_yaw_error", type=float, help="rad/s; default: the task's verdict.yaw_error")
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    if args.num_envs < 1 or not 0 <= args.settle_s < min(args.resample_s, args.episode_s):
        parser.error("expected --num_envs >= 1 and 0 <= --settle_s < --resample_s, --episode_s")
    if not 0 <= args.zero_prob <= 1:
        parser.error(f"--zero_prob: expected a share in [0, 1], got {args.zero_prob}")
    for flag in ("min_survival", "max_planar_error", "max_yaw_error"):
        value = getattr(args, flag)
        if value is not None and not (math.isfinite(value) and value >= 0):
            parser.error(f"--{flag}: expected a finite number >= 0, got {value}")
    return args, Settings(num_envs=args.num_envs, episode_s=args.episode_s, resample_s=args.resample_s,
                          zero_prob=args.zero_prob,
                          settle_s=args.settle_s, seed=args.seed, command=tuple(args.command) if args.command else None,
                          min_survival=args.min_survival, max_planar_error=args.max_planar_error,
                          max_yaw_error=args.max_yaw_error)


def main(argv=None) -> dict:
    args, settings = parse_args(argv)
    try:
        result = sim2sim(args.export_dir, settings, args.mjcf)
    except Sim2SimError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(format_table(result), flush=True)
    if args.json:
        write_json_atomic(Path(args.json), result)
    return result


if __name__ == "__main__":
    main()
