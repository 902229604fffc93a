"""DucklingTrack (and G1Track, the same tracker on the humanoid): a motion tracker (DeepMimic-style imitation) that
follows one clip of the dataset per env.

Each episode starts in a clip's state at a random time (at least `episode_length_s` before its end) and the policy
sees, besides its own joints, the clip's next frame: joint angles, root velocity in the clip's heading frame and
root height, and where the clip's root is now relative to its own. Its reward terms (registered in
awd.tasks.rewards.TERMS, weighted in the task's YAML) compare the robot after each step with the clip at the same
time: joint angles and velocities, root velocity and position, trunk height and the key bodies (feet) relative to
the root in the heading frame, the feet's height above the floor, each exp(-err^2 / std^2), and the feet's contacts.

The tracker exists to perform the clips in physics, within the robot's actuators (awd.style.perform): what it
does at each clip is a physically consistent version of that clip, which an AMP discriminator cannot separate from
physics by construction. References are packed MotionState rows (`reference_now`, `reference_next`), so a CUDA
graph of the step advances them in place like the task's other buffers.
"""

from __future__ import annotations

import torch

from awd.errors import AwdError
from awd.motion.strides import whole_strides
from awd.tasks.config import COMMAND_AXES
from awd.tasks.duckling import DucklingTask
from awd.tasks.observations import ObsTerm
from awd.tasks.registry import register
from awd.tasks.rewards import TERMS, RewardInputs, RewardTerm
from awd.utils.rotations import quat_to_matrix, rotate_about_z, yaw_from_quat


class DucklingTrack(DucklingTask):
    task_name = "DucklingTrack"
    env_cfg, train_cfg = "mini_bdx/duckling_track.yaml", "mini_bdx/train/amp_duckling.yaml"
    train_overrides = (("config.task_reward_w", 1.0), ("config.disc_reward_w", 0.0))
    needs_clips = True  # even to define its observation layout (awd.loader.policy_env)
    state_attributes = DucklingTask.state_attributes + ("clip_ids", "clip_times", "reference_now", "reference_next",
                                                       "clip_to_world_xy")

    def __init__(self, cfg, engine, motion_lib=None, spec=None):
        if motion_lib is None:
            raise AwdError(cfg.source, "env.motion_file", "DucklingTrack tracks clips: it needs a motion_file")
        self.clip_ids = torch.zeros(int(engine.num_envs), dtype=torch.long, device=motion_lib.device)
        self.clip_times = torch.zeros(int(engine.num_envs), dtype=torch.float64, device=motion_lib.device)
        self.clip_to_world_xy = torch.zeros(int(engine.num_envs), 2, device=engine.device)
        super().__init__(cfg, engine, motion_lib, spec)
        self._refresh_references()

    # ------------------------------------------------------------------------------------------ reference

    def _refresh_references(self) -> None:
        """Packed clip states (N, P) at each env's clip time (`reference_now`) and one step later (`reference_next`),
        on the task's device: one interpolation of a two-frame window."""
        packed = self.motion_lib.get_window_packed(self.clip_ids, self.clip_times + self.dt, 2, self.dt)
        self.reference_next, self.reference_now = packed.to(self.device, self.dtype).unbind(1)

    def reference(self, which: str = "now"):
        """The MotionState of the clip at the current step (`now`) or the next (`next`): views of the packed rows."""
        return self.motion_lib.unpack(self.reference_now if which == "now" else self.reference_next)

    def play_clips(self, clip_ids, start_s: float = 0.0) -> None:
        """Restart every env in clip `clip_ids[env]` at `start_s` (the performer's fixed assignment)."""
        ids = torch.as_tensor(clip_ids, dtype=torch.long, device=self.motion_lib.device)
        self._restart(torch.ones(self.num_envs, dtype=torch.bool, device=self.device), ids,
                      torch.full_like(self.clip_times, float(start_s)))

    # ------------------------------------------------------------------------------------------ resets

    def _reset(self, mask: torch.Tensor) -> torch.Tensor | None:
        """Reset the envs in `mask` into a clip state at a random time that leaves a whole episode of clip."""
        if self.compact_resets and not bool(mask.any()):
            return None
        lib, generator = self.motion_lib, self.reset_states.motion_generator()
        ids = lib.sample_clips(self.num_envs, generator=generator)
        times = lib.sample_times(ids, truncate_time=self.cfg.episode_length_s, generator=generator)
        return self._restart(mask, ids, times)

    def _restart(self, mask: torch.Tensor, ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        on_lib = mask.to(self.motion_lib.device)
        self.clip_ids = torch.where(on_lib, ids, self.clip_ids)
        self.clip_times = torch.where(on_lib, times, self.clip_times)
        state, window = self.reset_states.reference(self.clip_ids, self.clip_times)
        offset = self.reset_states.env_origins[:, :2] - state[:, :2]
        self.clip_to_world_xy = torch.where(mask.unsqueeze(-1), offset, self.clip_to_world_xy)
        self.engine.reset_where(mask, *self.reset_states.split(self.reset_states.blend(mask, state)))
        root_matrix = quat_to_matrix(self.engine.root_quat)
        self.last_reset_was_reference = self.last_reset_was_reference | mask
        self._reset_amp_history(mask, mask, window, root_matrix)
        self._reset_buffers(mask)
        self.randomization.reset(mask)
        self._refresh_references()
        return root_matrix

    def update_task(self) -> None:
        self.clip_times = self.clip_times + self.dt
        self._refresh_references()

    # ------------------------------------------------------------------------------------------ observation

    def task_obs_terms(self) -> list[ObsTerm]:
        joints = tuple(self.spec.joint_names)
        return [
            ObsTerm("reference_joint_pos", len(joints), lambda task, matrix: task.reference("next").joint_pos, joints,
                    "the clip's joint angles at the next policy step (rad) minus the default pose",
                    offset=self.spec.default_joint_pos, mirror="joints"),
            ObsTerm("reference_velocity", 3, lambda task, matrix: heading_velocity(task.reference("next")),
                    COMMAND_AXES,
                    "the clip's root velocity at the next step in its heading frame (m/s, m/s, rad/s)",
                    scale=self.cfg.commands.obs_scale, mirror=(1.0, -1.0, -1.0)),
            ObsTerm("reference_height", 1, lambda task, matrix: task.reference("next").root_pos[:, 2:3], ("z",),
                    "the clip's root height at the next step minus the robot's init root height (m)",
                    offset=float(self.spec.init_root_height)),
            ObsTerm("reference_offset", 2, lambda task, matrix: root_offset(task), ("x", "y"),
                    "where the clip's root is now, relative to the robot's, in the robot's heading frame (m)",
                    mirror=(1.0, -1.0)),
        ]


def heading_velocity(state) -> torch.Tensor:
    """(N, 3): the planar root velocity in the heading frame and the yaw rate of a MotionState or an engine."""
    heading = yaw_from_quat(state.root_quat)
    lin = rotate_about_z(-heading, state.root_lin_vel)
    return torch.cat([lin[:, :2], state.root_ang_vel[:, 2:3]], dim=-1)


def stride_velocity(state) -> torch.Tensor:
    """(3,): the mean `heading_velocity` of a clip's frames (a MotionState) over its whole strides."""
    return heading_velocity(state)[whole_strides((state.foot_contacts > 0.5).cpu().numpy())].mean(dim=0)


def root_offset(task) -> torch.Tensor:
    """(N, 2): the clip's root now (moved with the episode's start over the env origin) minus the robot's, in the
    robot's heading frame."""
    engine = task.engine
    offset = task.reference().root_pos[:, :2] + task.clip_to_world_xy - engine.root_pos[:, :2]
    heading = yaw_from_quat(engine.root_quat)
    return rotate_about_z(-heading, torch.nn.functional.pad(offset, (0, 1)))[:, :2]


def _bodies_in_heading(root_pos, root_quat, body_pos) -> torch.Tensor:
    """(N, B, 3) body positions relative to the root, in the root's heading frame."""
    heading = yaw_from_quat(root_quat).unsqueeze(-1)
    return rotate_about_z(-heading, body_pos - root_pos.unsqueeze(-2))


def _kernel(error_sq: torch.Tensor, std: float) -> torch.Tensor:
    return torch.exp(-error_sq / std ** 2)


def track_joint_pos(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-sum (q - q_clip)^2 / std^2) over every joint."""
    return _kernel(((inputs.joint_pos - inputs.task.reference().joint_pos) ** 2).sum(-1), p["std"])


def track_joint_vel(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-sum (qdot - qdot_clip)^2 / std^2)."""
    return _kernel(((inputs.joint_vel - inputs.task.reference().joint_vel) ** 2).sum(-1), p["std"])


def track_lin_vel(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-|v_xy - v_xy clip|^2 / std^2), each in its own heading frame."""
    error = heading_velocity(inputs.task.engine)[:, :2] - heading_velocity(inputs.task.reference())[:, :2]
    return _kernel((error ** 2).sum(-1), p["std"])


def track_root_pos(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-|p_xy - p_xy clip|^2 / std^2), the clip's root moved with the episode's start over the env origin: a
    velocity error adds up, so a clip performed too slowly costs more with every step."""
    return _kernel((root_offset(inputs.task) ** 2).sum(-1), p["std"])


def track_yaw_rate(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-(w_z - w_z clip)^2 / std^2)."""
    error = inputs.task.engine.root_ang_vel[:, 2] - inputs.task.reference().root_ang_vel[:, 2]
    return _kernel(error ** 2, p["std"])


def track_height(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-(z - z_clip)^2 / std^2) of the root."""
    return _kernel((inputs.root_height - inputs.task.reference().root_pos[:, 2]) ** 2, p["std"])


def track_key_bodies(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-sum |p - p_clip|^2 / std^2) over the key bodies (the feet), relative to the root in the heading frame."""
    task, engine = inputs.task, inputs.task.engine
    clip = task.reference()
    mine = _bodies_in_heading(engine.root_pos, engine.root_quat, engine.body_pos[:, task.key_body_indices])
    theirs = _bodies_in_heading(clip.root_pos, clip.root_quat, clip.key_body_pos)
    return _kernel(((mine - theirs) ** 2).sum((-1, -2)), p["std"])


def track_feet_height(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """exp(-sum (z - z_clip)^2 / std^2) of the feet above the floor: the swing's lift, which the key bodies (relative
    to the root) leave to the root's height."""
    task = inputs.task
    heights = task.engine.body_pos[:, task.foot_body_indices, 2]
    return _kernel(((heights - task.reference().foot_pos[..., 2]) ** 2).sum(-1), p["std"])


def track_contacts(inputs: RewardInputs, p: dict) -> torch.Tensor:
    """The share of feet whose contact with the floor is the clip's (stance and swing timing)."""
    reference = inputs.task.reference().foot_contacts > 0.5
    return (inputs.task.engine.foot_contacts == reference).to(reference.device, inputs.joint_pos.dtype).mean(-1)


TRACKING_TERMS = {
    "track_joint_pos": RewardTerm(track_joint_pos, {"std": 0.7}, ("std",)),
    "track_joint_vel": RewardTerm(track_joint_vel, {"std": 5.0}, ("std",)),
    "track_lin_vel": RewardTerm(track_lin_vel, {"std": 0.1}, ("std",)),
    "track_root_pos": RewardTerm(track_root_pos, {"std": 0.05}, ("std",)),
    "track_yaw_rate": RewardTerm(track_yaw_rate, {"std": 0.5}, ("std",)),
    "track_height": RewardTerm(track_height, {"std": 0.02}, ("std",)),
    "track_key_bodies": RewardTerm(track_key_bodies, {"std": 0.05}, ("std",)),
    "track_feet_height": RewardTerm(track_feet_height, {"std": 0.015}, ("std",)),
    "track_contacts": RewardTerm(track_contacts),
}
TERMS.update(TRACKING_TERMS)
register(DucklingTrack)


@register
class G1Track(DucklingTrack):
    task_name = "G1Track"
    env_cfg, train_cfg = "g1/g1_track.yaml", "g1/train/amp_g1.yaml"
