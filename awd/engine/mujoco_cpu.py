"""The CPU MuJoCo engine: one MjData per env, stepped by a thread pool over contiguous env chunks.

Stepping. `mujoco.mj_step` releases the GIL, so `num_threads` Python threads each run their chunk of envs
with one call per env per policy step (`mj_step(m, d, nstep)`), never a Python loop per substep.
`mujoco.rollout.Rollout` was measured too (nstep = decimation + 1, the extra step giving the sensors of the
new state; mini_bdx, 64 envs, 2 threads): as fast as the thread pool within the noise of a shared machine
(15.5k vs 15.0k env-steps/s), but it restarts every call from a state without the solver warm start (so it
does not reproduce a hand-stepped MjData), reports simulator warnings per thread instead of per env, and
needs the extra full step; the thread pool was kept.

Derived state. The `decimation` substeps are one `mj_step(m, d, decimation)`; the last substep's forward
leaves the applied actuator torques and the floor's contact forces (acceleration-stage sensors) of that
substep. Then `mj_fwdPosition` and `mj_sensorPos` make kinematics, contacts, contact counts and tracked body
positions those of the new state, without a constraint solve (the next substep's forward recomputes
everything anyway). Contacts come from MuJoCo contact sensors added to the model (awd.engine.mjmodel) and
tracked body positions from frame-position sensors, so that per env only `mj_getState` (time, qpos, qvel),
one copy of `sensordata` and one of `actuator_force` leave C; all conversion (quaternion order, body-frame
angular velocity to world, joint gathers, float32) is vectorised numpy over all envs. A reset runs the same
position stage; its torques and contact forces are zero until the first substep.

Invalid envs. MuJoCo resets a diverging MjData itself and records a warning (bad qpos/qvel/qacc, contact or
constraint buffer full, bad ctrl): an env whose warning counters moved during the step, or whose state or
sensors are not finite, is flagged in `invalid` until it is reset.

Domain randomisation. Friction, mass and torque scale are model parameters: the first such call gives every
env its own MjModel copy (a few hundred kB each for mini_bdx), after which they are edited per env. Torque
scale multiplies kp, kd and the force limit of the env's actuators (equal to scaling the applied torque).
The nominal `model` is never edited.

Measured (benchmarks/engine_cpu.py, mini_bdx, 2 threads on 2 shared cores): 13.6k / 17.5k / 16.7k
env-steps/s (policy steps/s summed over envs) at 16 / 64 / 256 envs; CPU-time overhead over raw mj_step of
the same physics 1.34x / 1.22x / 1.20x.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import mujoco
import numpy as np
import torch

from awd.engine.base import Engine
from awd.engine.mjmodel import build_engine_model, check_actuator_order, check_tracked_bodies
from awd.errors import AwdError
from awd.robot.model import joint_dof_addresses, joint_qpos_addresses
from awd.robot.spec import RobotSpec
from awd.utils.rotations import rotate_by_parts

STATE_SPEC = mujoco.mjtState.mjSTATE_TIME | mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_QVEL
EXACT_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION  # what mj_step reads, solver warm start included
MODEL_FIELDS = ("geom_friction", "body_mass", "body_ipos", "actuator_gainprm", "actuator_biasprm",
                "actuator_forcerange")  # the ones domain randomisation changes per env


def _as_numpy(value, shape: tuple, field: str) -> np.ndarray:
    array = value.detach().to("cpu", torch.float64).numpy() if isinstance(value, torch.Tensor) else np.asarray(value,
                                                                                                               dtype=np.float64)
    if array.shape != shape:
        raise AwdError(None, field, f"expected shape {shape}, got {tuple(array.shape)}")
    return array


def _env_ids(env_ids, num_envs: int) -> np.ndarray:
    ids = env_ids.detach().cpu().numpy() if isinstance(env_ids, torch.Tensor) else np.asarray(env_ids)
    ids = ids.astype(np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= num_envs):
        raise AwdError(None, "env_ids", f"expected ids in [0, {num_envs}), got {ids.min()}..{ids.max()}")
    return ids


def _rotate_wxyz(quat: np.ndarray, vec: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Rotate vectors (M,3) by quaternions (M,4) wxyz (or by their inverse)."""
    return rotate_by_parts(quat[:, :1], -quat[:, 1:] if inverse else quat[:, 1:], vec, np.cross)


class MujocoCpuEngine(Engine):
    """CPU MuJoCo, `num_threads` worker threads (default: all cores, at most num_envs)."""

    name = "mujoco"

    def __init__(self, spec: RobotSpec, num_envs: int, device: str = "cpu",
                 tracked_bodies: Sequence[str] | None = None, *, num_threads: int | None = None):
        super().__init__(spec, num_envs, device, tracked_bodies)
        check_tracked_bodies(spec, self.tracked_bodies)
        self.model, self._layout = build_engine_model(spec, self.tracked_bodies)
        check_actuator_order(self.model, spec)
        self._qadr = joint_qpos_addresses(self.model, spec)
        self._dadr = joint_dof_addresses(self.model, spec)
        self._models = [self.model] * num_envs   # per-env copies on the first model-changing DR call
        self._datas = [mujoco.MjData(self.model) for _ in range(num_envs)]
        self._scratch = mujoco.MjData(self.model)
        n, nq, nv = spec.num_joints, self.model.nq, self.model.nv
        self._state = np.zeros((num_envs, 1 + nq + nv))
        self._sensors = np.zeros((num_envs, self.model.nsensordata))
        self._torques = np.zeros((num_envs, n))
        self._ctrl = np.zeros((num_envs, n))
        self._warned = np.zeros(num_envs, dtype=bool)
        threads = num_threads or len(os.sched_getaffinity(0))
        self.num_threads = max(1, min(int(threads), num_envs))
        self._chunks = [(int(c[0]), int(c[-1]) + 1) for c in np.array_split(np.arange(num_envs), self.num_threads)]
        self._pool = ThreadPoolExecutor(self.num_threads) if self.num_threads > 1 else None
        self._allocate_outputs()
        self._init_default_pose()

    # --- setup ------------------------------------------------------------------------------------------------
    def _allocate_outputs(self) -> None:
        N, n, B = self.num_envs, self.spec.num_joints, len(self.tracked_bodies)
        shapes = {"root_pos": (N, 3), "root_quat": (N, 4), "root_lin_vel": (N, 3), "root_ang_vel": (N, 3),
                  "joint_pos": (N, n), "joint_vel": (N, n), "body_pos": (N, B, 3), "foot_contact_forces": (N, 2),
                  "joint_torques": (N, n)}
        bools = {"foot_contacts": (N, 2), "non_foot_ground_contact": (N,), "invalid": (N,)}
        self._np = {k: np.zeros(s, dtype=np.float32) for k, s in shapes.items()}
        self._np.update({k: np.zeros(s, dtype=bool) for k, s in bools.items()})
        on_cpu = self.device.type == "cpu"
        # On CPU the tensors share memory with the numpy buffers (zero-copy); elsewhere they are copied.
        self._tensors = {k: torch.from_numpy(a) if on_cpu else torch.from_numpy(a).to(self.device)
                         for k, a in self._np.items()}
        for key, tensor in self._tensors.items():
            setattr(self, key, tensor)

    def _init_default_pose(self) -> None:
        N = self.num_envs
        quat = torch.as_tensor(self.spec.init_root_quat, dtype=torch.float64).expand(N, 4)
        pos = torch.tensor([0.0, 0.0, self.spec.init_root_height], dtype=torch.float64).expand(N, 3)
        zeros3 = torch.zeros(N, 3, dtype=torch.float64)
        joints = torch.as_tensor(self.spec.default_joint_pos).expand(N, -1)
        self.reset(torch.arange(N), pos, quat, zeros3, zeros3, joints, torch.zeros_like(joints))

    # --- simulation -------------------------------------------------------------------------------------------
    def reset(self, env_ids, root_pos, root_quat, root_lin_vel, root_ang_vel, joint_pos, joint_vel) -> None:
        ids = _env_ids(env_ids, self.num_envs)
        M, n = len(ids), self.spec.num_joints
        pos = _as_numpy(root_pos, (M, 3), "reset.root_pos")
        quat_xyzw = _as_numpy(root_quat, (M, 4), "reset.root_quat")
        lin = _as_numpy(root_lin_vel, (M, 3), "reset.root_lin_vel")
        ang = _as_numpy(root_ang_vel, (M, 3), "reset.root_ang_vel")
        qj = _as_numpy(joint_pos, (M, n), "reset.joint_pos")
        vj = _as_numpy(joint_vel, (M, n), "reset.joint_vel")
        quat = quat_xyzw[:, [3, 0, 1, 2]]
        quat = quat / np.linalg.norm(quat, axis=1, keepdims=True)
        ang_local = _rotate_wxyz(quat, ang, inverse=True)   # MuJoCo's free-joint angular velocity is local
        for k, i in enumerate(ids):
            m, d = self._models[i], self._datas[i]
            d.qpos[0:3] = pos[k]
            d.qpos[3:7] = quat[k]
            d.qpos[self._qadr] = qj[k]
            d.qvel[0:3] = lin[k]
            d.qvel[3:6] = ang_local[k]
            d.qvel[self._dadr] = vj[k]
            d.qacc_warmstart[:] = 0.0
            d.act[:] = 0.0
            d.ctrl[:] = qj[k]        # hold the reset pose until the first step sets targets
            d.sensordata[:] = 0.0    # no contact force before the first substep
            self._ctrl[i] = qj[k]
            self._torques[i] = 0.0
            self._refresh_env(m, d, i)
        self._warned[ids] = False
        self._publish()

    def step(self, joint_targets) -> None:
        np.copyto(self._ctrl, _as_numpy(joint_targets, (self.num_envs, self.spec.num_joints), "step.joint_targets"))
        if self._pool is None:
            self._step_chunk(0, self.num_envs)
        else:
            for future in [self._pool.submit(self._step_chunk, lo, hi) for lo, hi in self._chunks]:
                future.result()
        self._publish()
        self._invalid_steps += int(self._np["invalid"].sum())

    def _step_chunk(self, lo: int, hi: int) -> None:
        decimation = self.spec.decimation
        models, datas, ctrl, torques, warned = self._models, self._datas, self._ctrl, self._torques, self._warned
        for i in range(lo, hi):
            m, d = models[i], datas[i]
            d.ctrl[:] = ctrl[i]
            mujoco.mj_step(m, d, decimation)
            torques[i] = d.actuator_force
            warnings = d.warning.number
            if warnings.any():
                warned[i] = True
                warnings[:] = 0
            self._refresh_env(m, d, i)

    def _refresh_env(self, m, d, i: int) -> None:
        mujoco.mj_fwdPosition(m, d)
        mujoco.mj_sensorPos(m, d)
        mujoco.mj_getState(m, d, self._state[i], STATE_SPEC)
        self._sensors[i] = d.sensordata

    def _publish(self) -> None:
        """Vectorised conversion of the gathered float64 state into the float32 output buffers."""
        out, layout = self._np, self._layout
        nq = self.model.nq
        qpos, qvel = self._state[:, 1:1 + nq], self._state[:, 1 + nq:]
        quat = qpos[:, 3:7]
        out["root_pos"][:] = qpos[:, 0:3]
        out["root_quat"][:] = quat[:, [1, 2, 3, 0]]
        out["root_lin_vel"][:] = qvel[:, 0:3]
        out["root_ang_vel"][:] = _rotate_wxyz(quat, qvel[:, 3:6])
        out["joint_pos"][:] = qpos[:, self._qadr]
        out["joint_vel"][:] = qvel[:, self._dadr]
        out["joint_torques"][:] = self._torques
        sensors = self._sensors
        out["body_pos"][:] = sensors[:, layout["body_pos"]].reshape(self.num_envs, -1, 3)
        found = sensors[:, layout["foot_found"]]
        out["foot_contacts"][:] = found > 0
        # the sensor's net force is the one the robot exerts on the floor: the floor pushes back with -f
        out["foot_contact_forces"][:] = -sensors[:, layout["foot_force"]].reshape(self.num_envs, 2, 3)[:, :, 2]
        out["non_foot_ground_contact"][:] = sensors[:, layout["robot_found"]] > found.sum(axis=1)
        finite = np.isfinite(self._state).all(axis=1) & np.isfinite(sensors).all(axis=1)
        out["invalid"][:] = ~finite | self._warned
        if self.device.type != "cpu":
            for key, tensor in self._tensors.items():
                tensor.copy_(torch.from_numpy(out[key]), non_blocking=True)

    # --- exact state (resume) ---------------------------------------------------------------------------------
    def get_state(self) -> dict[str, torch.Tensor]:
        size = mujoco.mj_stateSize(self.model, EXACT_SPEC)
        integration = np.zeros((self.num_envs, size))
        for i, (m, d) in enumerate(zip(self._models, self._datas)):
            mujoco.mj_getState(m, d, integration[i], EXACT_SPEC)
        state = {"integration": integration, "sensors": self._sensors, "ctrl": self._ctrl, "torques": self._torques,
                 "warned": self._warned}
        state |= {field: np.stack([getattr(m, field) for m in self._models]) for field in MODEL_FIELDS}
        return {key: torch.from_numpy(np.array(value)) for key, value in state.items()}

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        arrays = {key: value.numpy() for key, value in state.items()}
        for i in range(self.num_envs):
            if any(not np.array_equal(arrays[field][i], getattr(self._models[i], field)) for field in MODEL_FIELDS):
                model = self._own_model(i)
                for field in MODEL_FIELDS:
                    getattr(model, field)[:] = arrays[field][i]
                mujoco.mj_setConst(model, self._scratch)
        for i, (m, d) in enumerate(zip(self._models, self._datas)):
            mujoco.mj_setState(m, d, arrays["integration"][i], EXACT_SPEC)
            self._refresh_env(m, d, i)
        for name in ("sensors", "ctrl", "torques", "warned"):
            np.copyto(getattr(self, f"_{name}"), arrays[name])
        self._publish()

    # --- domain randomisation ---------------------------------------------------------------------------------
    def apply_root_velocity(self, env_ids, lin_vel_xy) -> None:
        ids = _env_ids(env_ids, self.num_envs)
        push = _as_numpy(lin_vel_xy, (len(ids), 2), "apply_root_velocity.lin_vel_xy")
        for k, i in enumerate(ids):
            self._datas[i].qvel[0:2] += push[k]
            self._refresh_env(self._models[i], self._datas[i], i)
        self._publish()

    def set_friction_scale(self, env_ids, scale) -> None:
        ids = _env_ids(env_ids, self.num_envs)
        scale = _as_numpy(scale, (len(ids),), "set_friction_scale.scale")
        self._check_positive(scale, "set_friction_scale.scale")
        for k, i in enumerate(ids):
            self._own_model(i).geom_friction[:, 0] = self.model.geom_friction[:, 0] * scale[k]
        self._refresh(ids)

    def set_mass_offset(self, env_ids, trunk_mass_delta, trunk_com_offset) -> None:
        ids = _env_ids(env_ids, self.num_envs)
        delta = _as_numpy(trunk_mass_delta, (len(ids),), "set_mass_offset.trunk_mass_delta")
        offset = _as_numpy(trunk_com_offset, (len(ids), 3), "set_mass_offset.trunk_com_offset")
        trunk = self.model.body(self.spec.trunk_body).id
        self._check_positive(self.model.body_mass[trunk] + delta, "set_mass_offset.trunk_mass_delta")
        for k, i in enumerate(ids):
            m = self._own_model(i)
            m.body_mass[trunk] = self.model.body_mass[trunk] + delta[k]
            m.body_ipos[trunk] = self.model.body_ipos[trunk] + offset[k]
            mujoco.mj_setConst(m, self._scratch)   # derived constants (subtree masses, inverse weights)
        self._refresh(ids)

    def set_torque_scale(self, env_ids, scale) -> None:
        ids = _env_ids(env_ids, self.num_envs)
        scale = _as_numpy(scale, (len(ids), self.spec.num_joints), "set_torque_scale.scale")
        if (scale < 0).any() or not np.isfinite(scale).all():
            raise AwdError(None, "set_torque_scale.scale", "expected finite values >= 0")
        nominal = self.model
        for k, i in enumerate(ids):
            m = self._own_model(i)
            m.actuator_gainprm[:, 0] = nominal.actuator_gainprm[:, 0] * scale[k]
            m.actuator_biasprm[:, 1:3] = nominal.actuator_biasprm[:, 1:3] * scale[k][:, None]
            m.actuator_forcerange[:] = nominal.actuator_forcerange * scale[k][:, None]
        self._refresh(ids)

    def env_model(self, env_id: int) -> mujoco.MjModel:
        """The MjModel env `env_id` runs (the shared nominal model until a DR hook gave it its own copy)."""
        return self._models[env_id]

    def env_data(self, env_id: int) -> mujoco.MjData:
        """The MjData of env `env_id` (for a viewer or a renderer: read it, do not step it)."""
        return self._datas[env_id]

    def _own_model(self, i: int) -> mujoco.MjModel:
        if self._models[i] is self.model:
            self._models = [copy.copy(self.model) if m is self.model else m for m in self._models]
        return self._models[i]

    def _refresh(self, ids: np.ndarray) -> None:
        for i in ids:
            self._refresh_env(self._models[i], self._datas[i], i)
        self._publish()

    @staticmethod
    def _check_positive(values: np.ndarray, field: str) -> None:
        if not (np.isfinite(values).all() and (values > 0).all()):
            raise AwdError(None, field, f"expected finite positive values, got min {values.min():g}")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)
