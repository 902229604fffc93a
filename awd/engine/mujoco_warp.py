"""The MuJoCo Warp engine: all envs as the worlds of one `mujoco_warp` Data on a GPU (or on Warp's CPU
device, slowly, for tests), stepped by a captured CUDA graph, with the state exposed as torch tensors.

It simulates the same model as the CPU engine (awd.engine.mjmodel: the robot spec's MJCF, PD position
actuators, contact and frame-position sensors), so one policy step from the same state agrees with it to
float32 precision (tools/check_warp_engine.py); box-box contacts (feet against feet) use CPU MuJoCo's box-box
collider rather than MuJoCo Warp's default convex one, which disagreed with it and alone took 35-40 s to compile.
Its kernels are compiled in parallel before their first launch (awd.engine.warp_compile: engine build and first
step from empty caches in 28.6 s for the duck on an H200, against 112 s one by one with the convex kernel).

Stepping (measured facts in the GPU stack's notes.md). The policy step `ctrl <- targets; decimation x step;
keep actuator forces; position stage` is captured once as a CUDA graph and replayed: launching the kernels from
Python would cost more than the physics. Sensors are switched off for all substeps but the last (the model
option is read when the kernels are launched, so the captured graph simply has no sensor kernels there),
whose forward leaves the floor's contact forces of that substep. The position stage (kinematics, collision,
position sensors: contact counts and tracked body positions) then makes the derived state that of the new
state without a constraint solve, as in the CPU engine. Torch runs on Warp's stream (set when the engine is
built on a CUDA device: this changes the process's current torch stream on that device), so torch reads and
writes of the zero-copy views (qpos, qvel, ctrl, sensordata, actuator forces, overflow flags) are ordered with
the graph without any synchronisation. Nothing in `step` or `reset_where` waits for the GPU.

Resets write the new states into the views with masked torch writes and replay the captured position stage
(of all worlds: MuJoCo Warp has no per-world kernels; recomputing an unchanged world gives the same values).
The next substep's forward recomputes everything from qpos and qvel, so a reset needs no forward: a full
forward of all worlds at every step with a reset cost as much as a fifth of the physics at 8192 envs. Both
graphs are launched through awd.utils.cuda_graphs.launch, so a caller can capture a whole env step (the torch
ops around the launches) as CUDA graphs too.

Buffers. Contacts and constraint rows are allocated from the model (`contact_capacity`): every collidable
robot geom on the floor at once, plus self-contacts of the geoms that can touch; constraint rows from the
friction cone. A world whose constraint rows or the shared contact buffer overflowed (MuJoCo Warp's per-world
overflow bits), or whose state or sensors are not finite, is flagged in `invalid` until it is reset; the task
resets it and counts it (`num_invalid_total`).

Domain randomisation. The first call of a hook rebuilds the device model with per-world copies of the fields
it edits (friction, body mass and centre of mass with the constants `set_const` derives from them, actuator
gains and force limits) and drops the captured graphs, which are captured again on the next step.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import mujoco
import numpy as np
import torch

from awd.engine.base import Engine
from awd.engine.warp_compile import compile_in_parallel
from awd.engine.mjmodel import build_engine_model, check_actuator_order, check_tracked_bodies
from awd.errors import AwdError
from awd.robot.model import default_qpos, joint_dof_addresses, joint_qpos_addresses
from awd.robot.spec import RobotSpec
from awd.utils.cuda_graphs import launch
from awd.utils.rotations import quat_rotate_wxyz

_PLANE, _SPHERE, _CAPSULE, _ELLIPSOID, _CYLINDER, _BOX = (int(t) for t in (
    mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_SPHERE, mujoco.mjtGeom.mjGEOM_CAPSULE,
    mujoco.mjtGeom.mjGEOM_ELLIPSOID, mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_BOX))
_PLANE_CONTACTS = {_SPHERE: 1, _ELLIPSOID: 1, _CAPSULE: 2, _CYLINDER: 4, _BOX: 4}   # MuJoCo's plane colliders
_PAIR_CONTACTS = 8                                                                 # box-box, the worst case
_DR_FIELDS = ("geom_friction", "body_mass", "body_ipos", "body_subtreemass", "body_invweight0", "dof_invweight0",
              "actuator_gainprm", "actuator_biasprm", "actuator_forcerange")


def _import_warp():
    try:
        import warp
        warp.config.log_level = warp.LOG_WARNING   # no banner or per-module load lines in training logs
        import mujoco_warp
    except ImportError as error:
        raise AwdError(None, "engine",
                       f"mujoco_warp needs the GPU extra (pip install -e \".[gpu]\"): {error}") from None
    return warp, mujoco_warp


def buffer_overflow_bits(mjw) -> int:
    """MuJoCo Warp's overflow bits for dropped contacts or constraint rows (not the solver's iteration caps,
    which end a solve early like CPU MuJoCo's and are not errors)."""
    overflow = mjw.OverflowType
    return int(overflow.ALL & ~(overflow.ITERATIONS | overflow.LS_ITERATIONS))


def contact_capacity(model: mujoco.MjModel) -> tuple[int, int]:
    """(contacts, constraint rows) per world: every collidable geom touching the floor at once, plus
    self-contacts of geom pairs that may collide (not parent/child, not welded together)."""
    floor_contacts, self_pairs = 0, 0
    planes = [g for g in range(model.ngeom) if model.geom_type[g] == _PLANE]
    robot = [g for g in range(model.ngeom) if model.geom_type[g] != _PLANE and model.geom_bodyid[g] > 0]
    for g in robot:
        if any(_may_collide(model, g, p) for p in planes):
            floor_contacts += _PLANE_CONTACTS.get(int(model.geom_type[g]), _PAIR_CONTACTS)
    for a, b in itertools.combinations(robot, 2):
        if _may_collide(model, a, b) and not _related(model, model.geom_bodyid[a], model.geom_bodyid[b]):
            self_pairs += 1
    contacts = floor_contacts + 2 * self_pairs   # at most a couple of self-contacts touch at once
    condim = int(model.geom_condim.max()) if model.ngeom else 3
    rows_per_contact = 2 * (condim - 1) if model.opt.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL else condim
    rows = floor_contacts * rows_per_contact + int(model.jnt_limited.sum()) + int(model.neq) * 6
    return contacts, rows


def _may_collide(model, a: int, b: int) -> bool:
    return bool((model.geom_contype[a] & model.geom_conaffinity[b])
                or (model.geom_contype[b] & model.geom_conaffinity[a]))


def _related(model, body_a: int, body_b: int) -> bool:
    if body_a == body_b:
        return True
    parent_a, parent_b = model.body_parentid[body_a], model.body_parentid[body_b]
    return body_b == parent_a or body_a == parent_b or model.body_weldid[body_a] == model.body_weldid[body_b]


def _column_view(tensor: torch.Tensor, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(tensor[:, a:b], None) when `index` is the contiguous range a..b-1 (a zero-copy view), else
    (a new buffer to gather into, the index tensor)."""
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return tensor[:, int(index[0]):int(index[0]) + len(index)], None
    return torch.zeros(tensor.shape[0], len(index), device=tensor.device), torch.as_tensor(index, device=tensor.device)


class MujocoWarpEngine(Engine):
    """MuJoCo Warp on `device` ("cuda:N", or "cpu" for Warp's CPU backend: no graphs, for tests)."""

    name = "mujoco_warp"

    @property
    def capturable(self) -> bool:
        """Steps and resets can be captured into a caller's CUDA graph (awd.utils.cuda_graphs.SegmentedGraph):
        on CUDA, until a domain-randomisation hook rebuilds the device model."""
        return self._use_graphs and not self._batched

    def __init__(self, spec: RobotSpec, num_envs: int, device: str = "cuda:0",
                 tracked_bodies: Sequence[str] | None = None, *, nconmax: int | None = None,
                 njmax: int | None = None):
        super().__init__(spec, num_envs, device, tracked_bodies)
        self._wp, self._mjw = _import_warp()
        self._overflow_bits = buffer_overflow_bits(self._mjw)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        check_tracked_bodies(spec, self.tracked_bodies)
        self.model, self._layout = build_engine_model(spec, self.tracked_bodies)
        self.model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_NATIVECCD   # box-box: CPU MuJoCo's collider
        check_actuator_order(self.model, spec)
        contacts, rows = contact_capacity(self.model)
        self.nconmax, self.njmax = nconmax or contacts, njmax or rows
        self._wp_device = self._wp.get_device(str(self.device))
        self._use_graphs = self._wp_device.is_cuda
        if self._use_graphs:
            stream = self._wp.get_stream(self._wp_device)
            torch.cuda.set_stream(torch.cuda.ExternalStream(stream.cuda_stream, device=self.device))
        self._build_device_model()
        self._make_data()
        self._make_views()
        self._flagged = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self._invalid_steps = torch.zeros((), dtype=torch.long, device=self.device)
        self._init_default_pose()

    # --- setup ------------------------------------------------------------------------------------------------
    def _build_device_model(self, batch_sizes: dict | None = None) -> None:
        with self._wp.ScopedDevice(self._wp_device):
            self._m = self._mjw.put_model(self.model, batch_sizes=batch_sizes)
        self._m.opt.warn_overflow = self._overflow_bits   # no prints from the graph when a solve hits its cap
        self._batched = bool(batch_sizes)
        self._graphs = {}

    def _make_data(self) -> None:
        data = mujoco.MjData(self.model)
        data.qpos[:] = default_qpos(self.model, self.spec)
        with self._wp.ScopedDevice(self._wp_device):
            self._d = self._mjw.put_data(self.model, data, nworld=self.num_envs, nconmax=self.nconmax,
                                         njmax=self.njmax)
            self._torque_buffer = self._wp.zeros_like(self._d.actuator_force)
            compile_in_parallel(self._wp, self._wp_device, self._warm_up_kernels)
            for _ in range(2):   # load every kernel before any capture (state is reset afterwards)
                self._warm_up_kernels()

    def _make_views(self) -> None:
        to_torch, d = self._wp.to_torch, self._d
        self._qpos, self._qvel, self._ctrl = to_torch(d.qpos), to_torch(d.qvel), to_torch(d.ctrl)
        self._qacc_warmstart, self._sensors = to_torch(d.qacc_warmstart), to_torch(d.sensordata)
        self._overflow, self._torques = to_torch(d.overflow), to_torch(self._torque_buffer)
        self._actuator_force = to_torch(d.actuator_force)
        self.joint_pos, self._qpos_index = _column_view(self._qpos, joint_qpos_addresses(self.model, self.spec))
        self.joint_vel, self._qvel_index = _column_view(self._qvel, joint_dof_addresses(self.model, self.spec))
        N, B = self.num_envs, len(self.tracked_bodies)
        zeros = lambda *shape, dtype=torch.float32: torch.zeros(*shape, dtype=dtype, device=self.device)  # noqa: E731
        self.root_pos, self.root_lin_vel = self._qpos[:, 0:3], self._qvel[:, 0:3]
        self.root_quat, self.root_ang_vel = zeros(N, 4), zeros(N, 3)
        self.joint_torques = self._torques
        self.body_pos = zeros(N, B, 3)
        self.foot_contacts, self.foot_contact_forces = zeros(N, 2, dtype=torch.bool), zeros(N, 2)
        self.non_foot_ground_contact, self.invalid = zeros(N, dtype=torch.bool), zeros(N, dtype=torch.bool)

    def _init_default_pose(self) -> None:
        N = self.num_envs
        quat = torch.as_tensor(self.spec.init_root_quat, dtype=torch.float32, device=self.device).expand(N, 4)
        pos = torch.tensor([0.0, 0.0, self.spec.init_root_height], device=self.device).expand(N, 3)
        joints = torch.as_tensor(self.spec.default_joint_pos, dtype=torch.float32, device=self.device).expand(N, -1)
        zeros3 = torch.zeros(N, 3, device=self.device)
        self.reset_where(torch.ones(N, dtype=torch.bool, device=self.device), pos, quat, zeros3, zeros3, joints,
                         torch.zeros_like(joints))

    # --- kernels and graphs -----------------------------------------------------------------------------------
    def _warm_up_kernels(self) -> None:
        self._step_kernels()
        self._position_kernels()

    def _step_kernels(self) -> None:
        self._d.overflow.zero_()
        self._substeps_without_sensors(self.spec.decimation - 1)   # only the last substep's contact forces are read
        self._mjw.step(self._m, self._d)
        self._wp.copy(self._torque_buffer, self._d.actuator_force)
        self._position_kernels()

    def _substeps_without_sensors(self, count: int) -> None:
        m, d, mjw = self._m, self._d, self._mjw
        flags = m.opt.disableflags
        m.opt.disableflags = flags | int(mjw.DisableBit.SENSOR)
        try:
            for _ in range(count):
                mjw.step(m, d)
        finally:
            m.opt.disableflags = flags

    def _position_kernels(self) -> None:
        m, d, mjw = self._m, self._d, self._mjw
        mjw.fwd_kinematics(m, d)
        mjw.collision(m, d)
        mjw.sensor_pos(m, d)

    def _launch(self, name: str, kernels) -> None:
        wp = self._wp
        if not self._use_graphs:
            with wp.ScopedDevice(self._wp_device):
                kernels()
            return
        graph = self._graphs.get(name)
        if graph is None:
            with wp.ScopedCapture(device=self._wp_device) as capture:
                kernels()
            graph = self._graphs[name] = capture.graph
        launch(lambda: wp.capture_launch(graph))

    # --- simulation -------------------------------------------------------------------------------------------
    def reset(self, env_ids, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel) -> None:
        ids = self._ids(env_ids)
        M, n = len(ids), self.spec.num_joints
        mask = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        mask[ids] = True
        state = [self._rows(value, (M, size), f"reset.{field}") for value, size, field in (
            (root_pos, 3, "root_pos"), (root_quat, 4, "root_quat"), (root_lin_vel, 3, "root_lin_vel"),
            (root_ang_vel, 3, "root_ang_vel"), (joint_pos, n, "joint_pos"), (joint_vel, n, "joint_vel"))]
        full = []
        for rows in state:
            scattered = torch.zeros(self.num_envs, rows.shape[1], device=self.device)
            scattered[ids] = rows
            full.append(scattered)
        self.reset_where(mask, *full)

    def reset_where(self, mask, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel) -> None:
        mask = mask.to(self.device, torch.bool).view(-1, 1)
        f32 = lambda x: x.to(self.device, torch.float32)  # noqa: E731
        quat = torch.cat([f32(root_quat)[:, 3:], f32(root_quat)[:, :3]], dim=-1)   # wxyz
        quat = quat / quat.norm(dim=-1, keepdim=True)
        conjugate = torch.cat([quat[:, :1], -quat[:, 1:]], dim=-1)
        ang_local = quat_rotate_wxyz(conjugate, f32(root_ang_vel))
        self._write(self._qpos[:, 0:3], mask, f32(root_pos))
        self._write(self._qpos[:, 3:7], mask, quat)
        self._write(self._qvel[:, 0:3], mask, f32(root_lin_vel))
        self._write(self._qvel[:, 3:6], mask, ang_local)
        self._write_joints(self._qpos, self.joint_pos, self._qpos_index, mask, f32(joint_pos))
        self._write_joints(self._qvel, self.joint_vel, self._qvel_index, mask, f32(joint_vel))
        self._ctrl.copy_(torch.where(mask, f32(joint_pos), self._ctrl))   # hold the pose until the first step
        self._qacc_warmstart.masked_fill_(mask, 0.0)
        self._torques.masked_fill_(mask, 0.0)
        self._sensors.masked_fill_(mask, 0.0)   # no contact force before the first substep
        self._flagged.masked_fill_(mask.view(-1), False)
        self._launch("position", self._position_kernels)
        self._publish()

    @staticmethod
    def _write(view: torch.Tensor, mask: torch.Tensor, value: torch.Tensor) -> None:
        view.copy_(torch.where(mask, value, view))

    def _write_joints(self, full: torch.Tensor, joints: torch.Tensor, index, mask, value: torch.Tensor) -> None:
        if index is None:
            self._write(joints, mask, value)
        else:
            full[:, index] = torch.where(mask, value, full[:, index])

    def step(self, joint_targets) -> None:
        targets = torch.as_tensor(joint_targets, device=self.device, dtype=torch.float32)
        if targets.shape != (self.num_envs, self.spec.num_joints):
            raise AwdError(None, "step.joint_targets",
                           f"expected shape {(self.num_envs, self.spec.num_joints)}, got {tuple(targets.shape)}")
        self._ctrl.copy_(targets)
        self._launch("step", self._step_kernels)
        self._flagged |= (self._overflow & self._overflow_bits) != 0
        self._publish()
        self._invalid_steps += self.invalid.sum()

    def _publish(self) -> None:
        """Refresh the derived state tensors from the simulator views (torch kernels, no synchronisation)."""
        layout, sensors, N = self._layout, self._sensors, self.num_envs
        quat = self._qpos[:, 3:7]
        self.root_quat[:, :3].copy_(quat[:, 1:])
        self.root_quat[:, 3].copy_(quat[:, 0])
        self.root_ang_vel.copy_(quat_rotate_wxyz(quat, self._qvel[:, 3:6]))
        if self._qpos_index is not None:
            self.joint_pos.copy_(self._qpos[:, self._qpos_index])
        if self._qvel_index is not None:
            self.joint_vel.copy_(self._qvel[:, self._qvel_index])
        self.body_pos.copy_(sensors[:, layout["body_pos"]].view(N, -1, 3))
        found = sensors[:, layout["foot_found"]]
        self.foot_contacts.copy_(found > 0)
        self.foot_contact_forces.copy_(-sensors[:, layout["foot_force"]].view(N, 2, 3)[:, :, 2])
        self.non_foot_ground_contact.copy_(sensors[:, layout["robot_found"]] > found.sum(dim=1))
        finite = (torch.isfinite(self._qpos).all(dim=-1) & torch.isfinite(self._qvel).all(dim=-1)
                  & torch.isfinite(sensors).all(dim=-1))
        self.invalid.copy_(~finite | self._flagged)

    # --- domain randomisation ---------------------------------------------------------------------------------
    def apply_root_velocity(self, env_ids, lin_vel_xy) -> None:
        ids = self._ids(env_ids)
        push = self._rows(lin_vel_xy, (len(ids), 2), "apply_root_velocity.lin_vel_xy")
        self._qvel[ids, 0:2] += push   # velocities only: the position stage is unchanged
        self._publish()

    def set_friction_scale(self, env_ids, scale) -> None:
        ids = self._ids(env_ids)
        scale = self._positive(self._rows(scale, (len(ids),), "set_friction_scale.scale"), "set_friction_scale.scale")
        friction = self._batched_field("geom_friction")
        friction[ids, :, 0] = self._nominal(self.model.geom_friction[:, 0]) * scale[:, None]

    def set_mass_offset(self, env_ids, trunk_mass_delta, trunk_com_offset) -> None:
        ids = self._ids(env_ids)
        delta = self._rows(trunk_mass_delta, (len(ids),), "set_mass_offset.trunk_mass_delta")
        offset = self._rows(trunk_com_offset, (len(ids), 3), "set_mass_offset.trunk_com_offset")
        trunk = self.model.body(self.spec.trunk_body).id
        self._positive(float(self.model.body_mass[trunk]) + delta, "set_mass_offset.trunk_mass_delta")
        mass, ipos = self._batched_field("body_mass"), self._batched_field("body_ipos")
        mass[ids, trunk] = float(self.model.body_mass[trunk]) + delta
        ipos[ids, trunk] = self._nominal(self.model.body_ipos[trunk]) + offset
        with self._wp.ScopedDevice(self._wp_device):
            self._mjw.set_const(self._m, self._d)

    def set_torque_scale(self, env_ids, scale) -> None:
        ids = self._ids(env_ids)
        scale = self._rows(scale, (len(ids), self.spec.num_joints), "set_torque_scale.scale")
        if not (torch.isfinite(scale).all() and (scale >= 0).all()):
            raise AwdError(None, "set_torque_scale.scale", "expected finite values >= 0")
        nominal = self._nominal
        self._batched_field("actuator_gainprm")[ids, :, 0] = nominal(self.model.actuator_gainprm[:, 0]) * scale
        biases = nominal(self.model.actuator_biasprm[:, 1:3])
        self._batched_field("actuator_biasprm")[ids, :, 1:3] = biases * scale[..., None]
        self._batched_field("actuator_forcerange")[ids] = nominal(self.model.actuator_forcerange) * scale[..., None]

    def _nominal(self, values) -> torch.Tensor:
        return torch.as_tensor(values, device=self.device, dtype=torch.float32)

    def _batched_field(self, name: str) -> torch.Tensor:
        """Zero-copy (N, ...) view of a model field, rebuilding the device model with per-world fields first."""
        if not self._batched:
            self._build_device_model({field: self.num_envs for field in _DR_FIELDS})
        return self._wp.to_torch(getattr(self._m, name))

    # --- argument checks --------------------------------------------------------------------------------------
    def _ids(self, env_ids) -> torch.Tensor:
        ids = torch.as_tensor(env_ids, device=self.device).to(torch.long).view(-1)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.num_envs):
            raise AwdError(None, "env_ids",
                           f"expected ids in [0, {self.num_envs}), got {int(ids.min())}..{int(ids.max())}")
        return ids

    def _rows(self, value, shape: tuple, field: str) -> torch.Tensor:
        tensor = torch.as_tensor(value, device=self.device, dtype=torch.float32)
        if tuple(tensor.shape) != shape:
            raise AwdError(None, field, f"expected shape {shape}, got {tuple(tensor.shape)}")
        return tensor

    @staticmethod
    def _positive(values: torch.Tensor, field: str) -> torch.Tensor:
        if not (torch.isfinite(values).all() and (values > 0).all()):
            raise AwdError(None, field, f"expected finite positive values, got min {float(values.min()):g}")
        return values
