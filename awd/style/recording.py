"""Recording motion for the style checks: the clips of a dataset as gaits, and a policy's gaits rolled out in an
env built from its config (one env per command, or free running for tasks without commands). Shared by the style
judge (awd.style.judge), the imitation judge (awd.style.imitation), the performer and the physics checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from awd.style.gait import Gait


def clip_gaits(spec, motion_file: Path) -> tuple[list[str], list[Gait]]:
    """Names and gaits of a dataset's clips (feet by forward kinematics of the robot's model)."""
    from awd.motion.dataset import dataset_files, load_dataset
    from awd.robot.kinematics import BodyPositions

    clips = load_dataset(motion_file, spec.joint_names)
    feet = BodyPositions(spec, spec.foot_bodies)
    names = [file.stem for file in dataset_files(motion_file)]
    gaits = [Gait.from_clip(clip, feet(clip.root_pos, clip.root_quat, clip.joint_pos)) for clip in clips]
    return names, gaits


def build_style_env(env_config: dict, num_envs: int, settings, duration_s: float):
    """The policy's env on `settings.engine` (a StyleSettings), default-pose starts, no command timer."""
    from awd.loader import policy_env

    return policy_env(env_config["task"], env_config["env"], env_config.get("source"), num_envs, settings.engine,
                      settings.device, settings.threads, settings.seed, episode_length_s=duration_s + 1.0,
                      command_timer=False)


class GaitRecorder:
    """Collects an engine's state every step (copies: the engine refreshes its tensors in place) into one Gait
    per env."""

    def __init__(self, engine, foot_bodies, dt: float):
        self.engine, self.dt, self.frames = engine, dt, []
        self.feet = [engine.body_index(name) for name in foot_bodies]

    def record(self) -> None:
        e = self.engine
        self.frames.append([t.clone() for t in (e.root_pos, e.root_quat, e.root_lin_vel, e.root_ang_vel, e.joint_pos,
                                                e.body_pos[:, self.feet], e.foot_contacts)])

    def gaits(self) -> list[Gait]:
        arrays = [torch.stack([f[i] for f in self.frames], dim=1).double().cpu().numpy() for i in range(7)]
        return [Gait(self.dt, *(a[e] for a in arrays[:6]), arrays[6][e] > 0.5) for e in range(len(arrays[0]))]


@torch.no_grad()
def rollout(env, act, commands: np.ndarray | None, settings) -> tuple[list[Gait], np.ndarray]:
    """Gaits recorded over `measure_s` after `settle_s` under fixed per-env commands, and which envs fell."""
    recorder = GaitRecorder(env.engine, env.spec.foot_bodies, env.dt)
    settle, measure = int(round(settings.settle_s / env.dt)), int(round(settings.measure_s / env.dt))
    if commands is not None:  # None: a task without commands runs free
        env.set_commands(torch.as_tensor(commands, dtype=torch.float32))
    obs = env.reset()
    fell = torch.zeros(env.num_envs, dtype=torch.bool, device=env.device)
    for step in range(settle + measure):
        obs, _, _, infos = env.step(act(obs).to(env.device))
        fell |= infos["terminate"].to(torch.bool)
        if step >= settle:
            recorder.record()
    return recorder.gaits(), fell.cpu().numpy()
