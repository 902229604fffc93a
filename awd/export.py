"""Export a trained policy for deployment: one folder with the actor as ONNX (`policy.onnx`) and TorchScript
(`policy.pt`), the observation normaliser baked in, and `policy.json`, the deployment contract.

`export_checkpoint(checkpoint, folder)` rebuilds the checkpoint's env (one env, CPU MuJoCo, from the
checkpoint's resolved config or a given one), refuses a checkpoint whose observation/action layout differs from
that env's, takes the deterministic actor from the model (`Network.export_actor`) and writes the folder
atomically (built next to it, then renamed). Both actors map raw observations [batch, obs_size] (`obs`) to
actions [batch, action_size] clipped to [-1, 1] (`actions`); with `raw=True` the folder also holds
`policy_raw.onnx` / `policy_raw.pt` (normalised observations in) and `normalizer.npz`.

`policy.json` (also stored as the ONNX model's metadata properties, one property per top-level key, the values
JSON-encoded, and as the TorchScript extra file `policy.json`) holds everything a runtime needs, all derived
from the robot spec and the task's observation layout: joint names in action order with the default pose, PD
gains and limits; how a joint target is formed; the control rate and physics step; the observation parts
(name, start, size, element names, scale, offset, meaning) in order; the command ranges; the normaliser
statistics; the fall criteria and delays of the task; the source checkpoint and the package versions.
Before the folder is published the three actors (torch, ONNX Runtime, TorchScript) are compared on random
observations (`export_check`; a difference above 1e-5 is an error). CLI: tools/export.py or
`python awd/run.py --export --checkpoint X`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import io
import json
import platform
import warnings
from pathlib import Path

import mujoco
import numpy as np
import torch

import awd
from awd.errors import AwdError, exit_on_error
from awd.learning.checkpoint import non_finite_entries
from awd.robot.bundle import digests, robot_files
from awd.tasks.config import COMMAND_AXES
from awd.loader import (INPUT_NAME, METADATA_FILE, OUTPUT_NAME, checkpoint_env_config, load_policy, onnx_session,
                        resolve_env_mapping)

FORMAT = "awd-policy"
ROBOT_DIR = "robot"  # the MJCF and its assets, inside the export folder
FORMAT_VERSION = 2  # 2: floor, PD implementation, observation rule and sources, reset state, delay, command and
#                        termination semantics (max_tilt included), root and foot contact bodies, locked joints
ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-5
TARGET_RULE = "target = default_pos + scale * clip(action, -1, 1)  (rad, per joint in action order)"
PD_RULE = ("torque = clip(kp * (target - q) - kd * dq, -effort_limit, effort_limit) at every physics step "
           "(MuJoCo position actuators with kv = kd)")
NORMALIZER_RULE = "clip((obs - mean) / sqrt(var + epsilon), -clip, clip)"
PD_IMPLEMENTATION = ("one MuJoCo position actuator per joint (gainprm[0] = kp, biasprm = [0, -kp, -kd], forcerange "
                     "+-effort_limit, forcelimited) integrated by implicitfast, which treats the kd term implicitly: "
                     "reproduce it with the same actuators (an explicit torque of the formula differs at large kd); "
                     "the joints' own damping, friction loss and armature act besides it, unbounded by the limit")
FLOOR = {"rule": "the MJCF's first plane of the world body; if it has none, this plane is added",
         "type": "plane", "z": 0.0, "size": [0.0, 0.0, 0.05], "contype": 1, "conaffinity": 1, "condim": 3,
         "friction": [1.0, 0.005, 0.0001]}
OBSERVATION_RULE = ("obs[start:start + size] = (quantity - offset) * scale per part, parts concatenated in order, read "
                    "after the policy step's last physics substep; joint angles and velocities are the joints' qpos "
                    "and qvel (MuJoCo); projected gravity is in the trunk frame: the root body's frame turned by "
                    "robot.trunk_in_root_quat_xyzw")
RESET_STATE = ("root body at (0, 0, robot.init_root_height) with robot.init_root_quat_xyzw, joints at "
               "joints.default_pos, every velocity 0, PD targets = joints.default_pos, last action 0, delay buffers "
               "filled with the first observation and zero actions")
DELAY_RULE = ("[min, max] policy steps: each episode draws d uniformly from min..max; the policy sees the observation "
              "of d steps ago / the action of d steps ago is applied; [0, 0]: none")
COMMAND_RULE = ("sampled uniformly in each range; the planar part is zeroed when |(vx, vy)| < small_lin_vel (the "
                "norm), the yaw part when |wz| < small_ang_vel; zero_prob of the samples are all zero; the tracked "
                "velocity is the mean of the root body's world-frame linear and angular velocity over the last "
                "velocity_window_s of policy steps (the current one included), rotated into the current yaw frame")
TERMINATION_RULE = ("checked after each policy step, from policy step grace_steps + 1 of an episode on: the "
                    "root body's origin below trunk_height (m), the head body's origin below head_height (0: off), "
                    "the root's z axis more than max_tilt (rad, 0: off) from vertical, a floor contact of a geom "
                    "outside the foot contact bodies' subtrees (self-contacts ignored); a non-finite state or a "
                    "simulator warning ends an episode as invalid")


# ------------------------------------------------------------------------------------------------ metadata


def _versions() -> dict:
    versions = {"awd": awd.__version__, "python": platform.python_version()}
    for package in ("torch", "onnx", "onnxruntime", "mujoco", "rl-games", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _quat_xyzw(rotation: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.asarray(rotation, dtype=np.float64).reshape(9))
    return quat[[1, 2, 3, 0]]


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _delay_steps(delay) -> list[int]:
    """[min, max] policy steps of a DR delay drawn per episode (both 0 when off)."""
    return [0, int(delay.max_steps) if delay.enabled else 0]


def policy_metadata(checkpoint: str | Path, state: dict, env, model) -> dict:
    """The deployment contract of a checkpoint's policy (see the module docstring)."""
    spec, cfg = env.spec, env.cfg
    env_config = checkpoint_env_config(checkpoint, state)
    rand = cfg.domain_rand
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": env.task_name,
        "source": {"checkpoint": str(Path(checkpoint).resolve()), "epoch": int(state.get("epoch", 0)),
                   "frame": int(state.get("frame", 0))},
        "versions": _versions(),
        "io": {"input": INPUT_NAME, "output": OUTPUT_NAME, "dtype": "float32", "batch": "dynamic",
               "obs_size": int(env.num_obs), "action_size": int(env.num_actions)},
        "robot": {"name": spec.name, "mjcf": str(spec.mjcf_path),
                  "mjcf_sha256": hashlib.sha256(spec.mjcf_path.read_bytes()).hexdigest(),
                  "trunk_body": spec.trunk_body, "root_body": spec.root_body, "head_body": spec.head_body,
                  "foot_bodies": list(spec.foot_bodies),
                  "foot_contact_bodies": list(spec.foot_contact_bodies),
                  "init_root_height": float(spec.init_root_height),
                  "init_root_quat_xyzw": _floats(spec.init_root_quat),
                  "trunk_in_root_quat_xyzw": _floats(_quat_xyzw(spec.trunk_in_root))},
        "joints": {"names": list(spec.joint_names), "default_pos": _floats(spec.default_joint_pos),
                   "kp": _floats(spec.kp), "kd": _floats(spec.kd), "effort_limit": _floats(spec.effort_limit),
                   "armature": _floats(spec.armature), "damping": _floats(spec.damping),
                   "frictionloss": _floats(spec.frictionloss),
                   "locked": [{"name": name, "angle": float(angle)} for name, angle in spec.locked_joints],
                   "lower": _floats(spec.joint_lower), "upper": _floats(spec.joint_upper)},
        "action": {"order": "joints.names", "clip": [-1.0, 1.0], "scale": spec.action_scale_record(),
                   "target": TARGET_RULE, "delay_steps": _delay_steps(rand.action_delay)},
        "control": {"sim_dt": float(spec.sim_dt), "decimation": int(spec.decimation),
                    "control_dt": float(spec.control_dt), "control_rate_hz": float(spec.control_rate),
                    "integrator": "implicitfast", "pd": PD_RULE, "pd_implementation": PD_IMPLEMENTATION,
                    "floor": FLOOR},
        "observation": {"size": int(env.num_obs), "rule": OBSERVATION_RULE, "parts": env.observation_description(),
                        "delay_steps": _delay_steps(rand.obs_delay),
                        "noise_in_training": rand.obs_noise.enabled},
        "commands": _commands(cfg) if any(n == "commands" for n, _ in env.obs_parts) else None,
        "normalizer": _normalizer(model),
        "termination": _termination(cfg.termination, spec),
        "reset_state": RESET_STATE,
        "delay_rule": DELAY_RULE,
        "env_config": env_config,
        "dataset": _dataset(env_config, spec.name),
        "training_randomization": sorted(name for name in ("push", "trunk_mass", "friction", "torque_scale",
                                                           "action_delay", "obs_delay", "obs_noise")
                                         if getattr(rand, name).enabled),
    }


def _dataset(env_config: dict, robot: str) -> dict | None:
    """The clips the policy was trained on: path and one sha256 of their files (None: no clips)."""
    from awd.motion.dataset import dataset_sha256
    from awd.tasks.factory import resolve_dataset

    name = env_config["env"].get("motion_file")
    if not name:
        return None
    path = resolve_dataset(name, robot, env_config.get("source"))
    return {"path": str(path), "sha256": dataset_sha256(path)}


def _normalizer(model) -> dict | None:
    """The observation normaliser's statistics as the exported actor applies them (None: not normalised)."""
    if not model.normalize_input:
        return None
    stats = model.running_mean_std
    return {"in_model": True, "rule": NORMALIZER_RULE, "clip": 5.0, "epsilon": float(stats.epsilon),
            "mean": _floats(stats.running_mean.float()), "var": _floats(stats.running_var.float())}


def _termination(rule, spec) -> dict:
    on = rule.enabled
    return {"trunk_height": rule.trunk_height if on else 0.0,
            "head_height": rule.head_height if on and spec.head_body else 0.0,
            "max_tilt": rule.max_tilt if on else 0.0, "non_foot_contact": on and rule.non_foot_contact,
            "grace_steps": int(rule.grace_steps), "rule": TERMINATION_RULE}


def _commands(cfg) -> dict:
    c = cfg.commands
    return {"rule": COMMAND_RULE, "names": list(COMMAND_AXES), "units": ["m/s", "m/s", "rad/s"],
            "frame": "yaw",
            "ranges": [list(c.lin_vel_x), list(c.lin_vel_y), list(c.ang_vel_z)], "obs_scale": list(c.obs_scale),
            "zero_prob": c.zero_prob, "small_lin_vel": c.small_lin_vel, "small_ang_vel": c.small_ang_vel,
            "resample_s": c.resample_s, "velocity_window_s": c.velocity_window_s, "gait_period_s": c.gait_period_s,
            "gait_off_at_zero": c.gait_off_at_zero}


# ------------------------------------------------------------------------------------------------ writers


def onnx_bytes(actor: torch.nn.Module, obs_size: int) -> bytes:
    """The actor as an ONNX model (opset 17, dynamic batch), without metadata."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated but needs no onnxscript
        torch.onnx.export(actor, (torch.zeros(1, obs_size),), buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    return buffer.getvalue()


def onnx_metadata(path: str | Path) -> dict:
    """The metadata properties of an exported ONNX model, decoded."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {prop.key: json.loads(prop.value) for prop in model.metadata_props}


@contextlib.contextmanager
def torchscript():
    """Silences torch's deprecation of torch.jit while policy.pt is written: TorchScript stays the format that
    libtorch (C++) loads with torch::jit::load; README "Export and deploy" says why and what replaces it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield


def parity(actor: torch.nn.Module, onnx_model: str | Path | bytes, scripted: torch.jit.ScriptModule,
           obs: np.ndarray) -> dict[str, float]:
    """Max |a - a_torch| of ONNX Runtime and TorchScript against the torch actor on observations `obs`."""
    obs = np.ascontiguousarray(obs, dtype=np.float32)
    with torch.no_grad():
        expected = actor(torch.from_numpy(obs)).numpy()
        scripted_actions = scripted(torch.from_numpy(obs)).numpy()
    onnx_actions = onnx_session(onnx_model).run([OUTPUT_NAME], {INPUT_NAME: obs})[0]
    return {"onnxruntime": float(np.abs(onnx_actions - expected).max()),
            "torchscript": float(np.abs(scripted_actions - expected).max())}


def random_observations(metadata: dict, count: int, normalized: bool = False, seed: int = 0) -> np.ndarray:
    """`count` observations spread like the training data (mean +- 3 std, so some lie beyond the normaliser's
    clip); `normalized`: as the normaliser outputs them (a raw actor's input)."""
    noise = 3.0 * np.random.default_rng(seed).standard_normal((count, metadata["io"]["obs_size"]))
    normalizer = metadata["normalizer"]
    if normalized or normalizer is None:
        return noise.astype(np.float32)
    std = np.sqrt(np.array(normalizer["var"]) + normalizer["epsilon"])
    return (np.array(normalizer["mean"]) + std * noise).astype(np.float32)


def compile_actor(actor: torch.nn.Module, obs_size: int):
    """(ONNX ModelProto, TorchScript module) of an actor."""
    import onnx

    with torchscript():
        scripted = torch.jit.script(actor)
    return onnx.load_from_string(onnx_bytes(actor, obs_size)), scripted


def check_actor(name: str, actor, onnx_model, scripted, obs: np.ndarray) -> dict[str, float]:
    """The parity of the compiled actors with the torch one; AwdError above PARITY_TOLERANCE."""
    differences = parity(actor, onnx_model.SerializeToString(), scripted, obs)
    failing = [key for key, difference in differences.items() if not difference <= PARITY_TOLERANCE]  # NaN fails
    if failing:
        raise AwdError(name, "export_check", f"{failing[0]} differs from the torch actor by "
                       f"{differences[failing[0]]:.2e} (expected <= {PARITY_TOLERANCE:g})")
    return differences


def save_actor(folder: Path, stem: str, onnx_model, scripted, metadata: dict) -> None:
    """`<stem>.onnx` with the metadata as properties and `<stem>.pt` with it as the extra file policy.json."""
    import onnx

    for key, value in metadata.items():
        onnx_model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(folder / f"{stem}.onnx"))
    with torchscript():
        torch.jit.save(scripted, str(folder / f"{stem}.pt"), _extra_files={METADATA_FILE: json.dumps(metadata)})


def export_checkpoint(checkpoint: str | Path, folder: str | Path | None = None, raw: bool = False,
                      env_mapping: dict | None = None) -> Path:
    """Export the policy of `checkpoint` into `folder` (default: <checkpoint dir>/<stem>_export); returns it."""
    from awd.utils.io import atomic_directory

    checkpoint = Path(checkpoint)
    folder = Path(folder) if folder else checkpoint.with_name(f"{checkpoint.stem}_export")
    state, env, model = load_policy(checkpoint, env_mapping)
    poisoned = non_finite_entries({"model": model.state_dict()})
    if poisoned:
        raise AwdError(checkpoint, "model", f"not exported: non-finite values in {poisoned[0]}"
                       f"{f' and {len(poisoned) - 1} more' if len(poisoned) > 1 else ''}")
    metadata = policy_metadata(checkpoint, state, env, model)
    robot = robot_files(env.spec.mjcf_path)
    mjcf, hashes = next(iter(robot)), digests(robot)
    metadata["robot"].update(mjcf=f"{ROBOT_DIR}/{mjcf}", mjcf_sha256=hashes[mjcf], source_mjcf=str(env.spec.mjcf_path),
                             files={f"{ROBOT_DIR}/{path}": digest for path, digest in hashes.items()})
    actors = {"policy": model.export_actor()}
    metadata["files"] = {"onnx": "policy.onnx", "torchscript": "policy.pt", "metadata": METADATA_FILE}
    if raw and metadata["normalizer"] is not None:
        actors["policy_raw"] = model.export_actor(normalize=False)
        metadata["files"].update(raw_onnx="policy_raw.onnx", raw_torchscript="policy_raw.pt",
                                 normalizer="normalizer.npz")
    compiled = {stem: compile_actor(actor, env.num_obs) for stem, actor in actors.items()}
    samples = 256
    metadata["export_check"] = {"samples": samples, "tolerance": PARITY_TOLERANCE, **{
        stem: check_actor(f"{stem}.onnx", actor, *compiled[stem],
                          random_observations(metadata, samples, normalized=stem != "policy"))
        for stem, actor in actors.items()}}
    with atomic_directory(folder, METADATA_FILE) as building:
        for path, content in robot.items():
            (building / ROBOT_DIR / path).parent.mkdir(parents=True, exist_ok=True)
            (building / ROBOT_DIR / path).write_bytes(content)
        for stem, (onnx_model, scripted) in compiled.items():
            save_actor(building, stem, onnx_model, scripted, metadata)
        if "policy_raw" in actors:
            normalizer = metadata["normalizer"]
            np.savez(building / "normalizer.npz", mean=np.float32(normalizer["mean"]),
                     var=np.float32(normalizer["var"]), epsilon=normalizer["epsilon"], clip=normalizer["clip"])
        (building / METADATA_FILE).write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------ CLI


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a training checkpoint (nn/<name>.pth)")
    parser.add_argument("-o", "--export_dir", help="output folder (default: <checkpoint dir>/<stem>_export)")
    parser.add_argument("--raw", action="store_true",
                        help="also write actors without the normaliser (policy_raw.*) and normalizer.npz")
    parser.add_argument("--cfg_env", help="env YAML to export against (default: the checkpoint's resolved config)")
    return parser.parse_args(argv)


def report(folder: Path) -> str:
    metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    check = metadata["export_check"]["policy"]
    return (f"awd: exported {metadata['task']} ({metadata['io']['obs_size']} obs -> {metadata['io']['action_size']} "
            f"actions, {metadata['control']['control_rate_hz']:g} Hz) to {folder}: "
            f"{', '.join(metadata['files'].values())}"
            f"; max |diff| vs torch: onnxruntime {check['onnxruntime']:.1e}, torchscript {check['torchscript']:.1e}")


def main(argv=None) -> Path:
    """CLI entry point (tools/export.py); exit code 2 on bad input."""
    args = parse_args(argv)
    with exit_on_error():
        mapping = resolve_env_mapping(args.checkpoint, args.cfg_env)
        folder = export_checkpoint(args.checkpoint, args.export_dir, args.raw, mapping)
        print(report(folder), flush=True)
        return folder
