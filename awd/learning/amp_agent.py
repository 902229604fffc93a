"""The AMP agent (rl_games algo `amp`): PPO from rl_games' A2CAgent plus a discriminator-based style reward.

Per epoch: roll out `horizon_length` steps (the env reports `infos["amp_obs"]` and `infos["terminate"]`),
score the rollout's AMP obs with D (style reward), mix `task_reward_w * r_task + disc_reward_w * r_style`,
bootstrap the value on timeouts, compute GAE, then run `mini_epochs` passes over shuffled minibatches,
each step minimising PPO (clip, critic, bounds, entropy) + disc_coef * discriminator loss. Afterwards the
rollout's AMP obs go into the replay buffer. One Adam with separate param groups (and learning rates)
for actor, critic and discriminator (awd.learning.optimizer). Its state in checkpoints: awd.learning.agent_state;
its epoch statistics: awd.learning.episode_stats and awd.learning.progress.

Config keys read beyond rl_games' PPO ones are listed in AMPSettings (awd.learning.amp_settings) and in the training
YAML template.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from rl_games.algos_torch import a2c_continuous, torch_ext
from rl_games.common import a2c_common, common_losses, datasets, schedulers

from awd.errors import AwdError
from awd.learning.agent_state import full_state, policy_state, restore_agent
from awd.learning.checkpoint import env_layout, save_checkpoint, to_plain
from awd.learning.episode_stats import FinishedEpisodes, episode_means, record_episode_infos
from awd.learning.guarded_step import GuardedStep
from awd.learning.optimizer import build_optimizer, learning_rates, scale_learning_rates
from awd.learning.progress import STARTUP, add_frame_rates, progress_line, threads_line, write_stats
from awd.learning.amp_settings import CONFIG_SOURCE, AMPSettings, log, resolve_config
from awd.learning.discriminator import DiscLossWeights, discriminator_loss, style_reward
from awd.learning.demo_buffer import DemoBuffer
from awd.learning.distributed import DataParallel, summary_writer_on_main_rank_only
from awd.learning.disc_noise import DiscNoise
from awd.learning.replay_buffer import ReplayBuffer
from awd.learning.resume_state import start_rollout
from awd.learning.stop_request import StopRequest
from awd.learning.style_monitor import StyleMonitor
from awd.learning.style_termination import StyleTermination
from awd.learning.symmetry import SymmetryLoss, actor_mirror
from awd.learning.vecenv import read_amp_infos
from awd.learning.watchdogs import Watchdogs
from awd.utils.cuda_graphs import GraphedStep


class AMPAgent(a2c_continuous.A2CAgent):
    """PPO + AMP on rl_games; registered as algo `amp` by awd.learning.register."""

    def __init__(self, base_name: str, params: dict):
        config = params["config"]
        resolve_config(config)
        plain_params = to_plain({k: v for k, v in params.items() if k != "config"} | {"config": config})
        with summary_writer_on_main_rank_only(a2c_common):
            a2c_common.ContinuousA2CBase.__init__(self, base_name, params)
        self.amp = AMPSettings.from_config(config)
        torch.backends.cuda.matmul.fp32_precision = "tf32" if self.amp.tf32 else "ieee"
        self.plain_params = plain_params
        self.amp_space = self._amp_observation_space()
        self.model = self._build_model()
        self.data_parallel = DataParallel(self._module())
        self.states = None
        self.init_rnn_from_model(self.model)
        self.last_lr = float(self.last_lr)
        self.bound_loss_type = "bound"
        self.optimizer = build_optimizer(self._module().a2c_network, self._learning_rates(), self.weight_decay,
                                         self.ppo_device)
        self.guarded_step = GuardedStep(self.optimizer, self.grad_norm if self.truncate_grads else None)
        self.dataset = datasets.PPODataset(self.batch_size, self.minibatch_size, False, False, self.ppo_device,
                                           self.seq_length, permute=True)
        if self.normalize_value:
            self.value_mean_std = self._module().value_mean_std
        self.has_value_loss = True
        self.amp_minibatch_size = max(1, min(self.amp.amp_minibatch_size, self.minibatch_size))
        self.replay_buffer = ReplayBuffer(self.amp.amp_replay_buffer_size, self.amp.amp_replay_keep_prob,
                                          self.ppo_device)
        self.demo_buffer = DemoBuffer(self.amp.amp_obs_demo_buffer_size, self.vec_env, self.amp_space.shape,
                                      self.ppo_device, self.env_name)
        self.resume: dict | None = None  # set by a restore: what train() puts back (awd.learning.resume_state)
        self.layout = self._current_layout()
        self.disc_noise = DiscNoise(self.amp.disc_input_noise, self.amp.disc_noise_target_acc, self.ppo_device)
        self.disc_weights = DiscLossWeights(self.amp.disc_logit_reg, self.amp.disc_grad_penalty,
                                            self.amp.disc_weight_decay, self.disc_noise.weight(), self.amp.disc_loss)
        self.style_termination = StyleTermination(self.amp.style_termination_threshold,
                                                  self.amp.style_termination_steps, self.style_rewards, self.vec_env,
                                                  self.num_actors, self.ppo_device)
        self.symmetry_loss = SymmetryLoss.from_settings(self.amp, self.vec_env, self.ppo_device)
        self.watchdogs = Watchdogs(self.amp.disc_saturation_acc, self.amp.disc_saturation_epochs, log)
        judged = any(name == "commands" for name, _ in self.layout.get("obs", []))  # the style judge needs commands
        self.style_monitor = StyleMonitor(self.amp.style_eval_every if judged else 0, self.amp.style_eval_threads,
                                          Path(self.nn_dir).parent / "style", self.writer)
        self._graphed_steps: dict[bool, GraphedStep] = {}
        self._graphed_policy: GraphedStep | None = None
        self.algo_observer.after_init(self)
        log(f"amp agent: {self.num_actors} envs x {self.horizon_length} steps = batch {self.batch_size}, "
            f"{self.batch_size // self.minibatch_size} minibatches of {self.minibatch_size}, "
            f"{self.mini_epochs_num} mini-epochs, disc rows per minibatch {self.amp_minibatch_size}")
        log(threads_line(self.vec_env))

    # ------------------------------------------------------------------ construction
    def _module(self):
        """The model without a torch.compile wrapper (for state dicts and attribute access)."""
        return getattr(self.model, "_orig_mod", self.model)

    def _amp_observation_space(self):
        space = self.env_info.get("amp_observation_space")
        if space is None:
            raise AwdError(CONFIG_SOURCE, "env_info", "the env info has no amp_observation_space "
                           "(register the env with awd.learning.register.register_env)")
        if self.num_agents != 1:
            raise AwdError(CONFIG_SOURCE, "env_info.agents",
                           f"the amp algo needs 1 agent per env, found {self.num_agents}")
        return space

    def _build_model(self):
        build_config = {
            "actions_num": self.actions_num, "input_shape": self.obs_shape, "num_seqs": self.num_actors,
            "value_size": self.env_info.get("value_size", 1), "normalize_value": self.normalize_value,
            "normalize_input": self.normalize_input, "amp_input_shape": tuple(self.amp_space.shape),
            "normalize_amp_input": self.amp.normalize_amp_input, "mirror": actor_mirror(self.vec_env),
        }
        model = self.network.build(build_config)
        if not hasattr(model, "disc_logits"):
            raise AwdError(CONFIG_SOURCE, "model.name",
                           "the amp algo needs `model: {name: amp}` and `network: {name: amp}`")
        return model.to(self.ppo_device)

    def _learning_rates(self) -> dict[str, float]:
        return learning_rates(self.config["learning_rate"], self.amp.critic_learning_rate, self.amp.disc_learning_rate)

    def _current_layout(self) -> dict:
        if self.vec_env is not None and hasattr(self.vec_env, "get_layout"):
            return self.vec_env.get_layout()
        return env_layout(None, self.observation_space, self.env_info["action_space"], self.amp_space)

    def update_lr(self, lr: float) -> None:
        """Scale every group's base lr by lr / actor base lr (schedules act on the actor lr)."""
        scale_learning_rates(self.optimizer, float(lr) / float(self.config["learning_rate"]))

    # ------------------------------------------------------------------ rollout
    def init_tensors(self):
        super().init_tensors()
        shape = (self.horizon_length, self.num_actors)
        buffers = self.experience_buffer.tensor_dict
        buffers["amp_obs"] = torch.zeros(shape + tuple(self.amp_space.shape), device=self.ppo_device)
        buffers["task_rewards"] = torch.zeros(shape + (1,), device=self.ppo_device)
        buffers["timeouts"] = torch.zeros(shape + (1,), device=self.ppo_device)
        self.finished_episodes = FinishedEpisodes(self.ppo_device)
        self.tensor_list = self.tensor_list + ["amp_obs"]

    def cast_obs(self, obs):
        """Observations on the agent's device (the env may simulate on another, e.g. CPU MuJoCo)."""
        return super().cast_obs(obs).to(self.ppo_device) if isinstance(obs, torch.Tensor) else super().cast_obs(obs)

    def _graph_rollout(self) -> None:
        """With `cuda_graphs` on CUDA: policy inference, and the env step where the env allows it, replayed as
        CUDA graphs during rollouts."""
        if not (self.amp.cuda_graphs and torch.device(self.ppo_device).type == "cuda"):
            return
        self._graphed_policy = GraphedStep(lambda inputs: self.get_action_values({"obs": inputs["obs"]}))
        use = getattr(self.vec_env, "use_cuda_graphs", None)
        log("env steps replayed as CUDA graphs" if use is not None and use()
            else "env steps run eagerly (the env's step is not capturable)")

    def _policy_step(self, obs: dict) -> dict:
        if self._graphed_policy is None:
            return self.get_action_values(obs)
        return self._graphed_policy({"obs": obs["obs"]})

    def play_steps(self) -> dict:
        buffers, step_time, stats = self.experience_buffer.tensor_dict, 0.0, {}
        done_count, fall_count = torch.zeros((), device=self.ppo_device), torch.zeros((), device=self.ppo_device)
        for n in range(self.horizon_length):
            res_dict = self._policy_step(self.obs)
            self.experience_buffer.update_data("obses", n, self.obs["obs"])
            self.experience_buffer.update_data("dones", n, self.dones)
            for k in self.update_list:
                self.experience_buffer.update_data(k, n, res_dict[k])
            start = time.perf_counter()
            self.obs, rewards, self.dones, infos = self.env_step(res_dict["actions"])
            step_time += time.perf_counter() - start
            amp_obs, falls = read_amp_infos(infos, self.dones, self.amp_space.shape, self.ppo_device, self.env_name)
            buffers["amp_obs"][n] = amp_obs
            self.style_termination.observe(amp_obs, self.dones)
            buffers["task_rewards"][n] = self.rewards_shaper(rewards)
            buffers["timeouts"][n] = (self.dones.bool() & ~falls).float().unsqueeze(1)
            done_count += self.dones.sum()
            fall_count += falls.sum()
            record_episode_infos(infos, stats)
            self.finished_episodes.add_step(self.current_rewards, self.current_lengths, rewards, self.dones)
        self.rollout_stats = episode_means(stats)
        if done_count > 0:
            self.rollout_stats["info/fall_rate"] = float(fall_count / done_count)
        self.rollout_stats.update(self.style_termination.rollout_stats(done_count))
        return self._finish_rollout(step_time)

    def style_rewards(self, amp_obs: torch.Tensor) -> torch.Tensor:
        """Style reward of raw AMP obs [..., amp_size] -> [..., 1] (D in eval, normalised inputs)."""
        flat = amp_obs.reshape(-1, amp_obs.shape[-1])
        with torch.no_grad():
            logits = self._module().disc_logits(flat)
        return style_reward(logits, self.amp.disc_reward_scale, self.amp.disc_loss).reshape(*amp_obs.shape[:-1], 1)

    def _finish_rollout(self, step_time: float) -> dict:
        buffers = self.experience_buffer.tensor_dict
        style = self.style_rewards(buffers["amp_obs"])
        mixed_style = style / style.std().clamp_min(1e-4) if self.amp.disc_reward_norm else style
        values = buffers["values"]
        rewards = self.amp.task_reward_w * buffers["task_rewards"] + self.amp.disc_reward_w * mixed_style
        if self.value_bootstrap:
            rewards = rewards + self.gamma * values * buffers["timeouts"]
        buffers["rewards"].copy_(rewards)
        self.rollout_stats.update({"info/disc_reward_mean": float(style.mean()),
                                   "info/disc_reward_std": float(style.std()),
                                   "info/task_reward_mean": float(buffers["task_rewards"].mean())})
        last_values = self.get_values(self.obs)
        advantages = self.discount_values(self.dones.float(), last_values, buffers["dones"].float(), values, rewards)
        batch_dict = self.experience_buffer.get_transformed_list(a2c_common.swap_and_flatten01, self.tensor_list)
        batch_dict["returns"] = a2c_common.swap_and_flatten01(advantages + values)
        batch_dict["played_frames"] = self.batch_size * self.data_parallel.world_size
        batch_dict["step_time"] = step_time
        return batch_dict

    # ------------------------------------------------------------------ demos and replay
    def prepare_dataset(self, batch_dict: dict) -> None:
        super().prepare_dataset(batch_dict)
        self.demo_buffer.fetch(self.amp.amp_batch_size)
        amp_obs = batch_dict["amp_obs"]
        model = self._module()
        model.update_amp_stats(amp_obs)
        model.update_amp_stats(self.demo_buffer.sample(min(len(amp_obs), len(self.demo_buffer))))
        self.dataset.values_dict["amp_obs"] = amp_obs

    # ------------------------------------------------------------------ update
    def bound_loss(self, mu: torch.Tensor) -> torch.Tensor:
        """Soft penalty on mu outside [-1, 1] (summed over actions)."""
        if not self.bounds_loss_coef:
            return torch.zeros(mu.shape[0], device=mu.device)
        return (torch.clamp_min(mu - 1.0, 0.0) ** 2 + torch.clamp_max(mu + 1.0, 0.0) ** 2).sum(dim=-1)

    _STEP_INPUTS = ("obs", "actions", "old_logp_actions", "advantages", "old_values", "returns", "mu", "sigma")

    def _step_inputs(self, input_dict: dict) -> dict[str, torch.Tensor]:
        """The minibatch tensors one gradient step reads, with the discriminator's agent, replay and demo rows
        (sampled here, outside a captured graph)."""
        inputs = {name: input_dict[name] for name in self._STEP_INPUTS}
        agent = input_dict["amp_obs"][:self.amp_minibatch_size]
        inputs["amp_agent"] = agent
        inputs["amp_replay"] = self.replay_buffer.sample(len(agent)) if len(self.replay_buffer) else agent
        inputs["amp_demo"] = self.demo_buffer.sample(len(agent))
        return inputs

    def _gradient_step(self, inputs: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor,
                                                                       torch.Tensor]:
        """PPO + discriminator loss, backward and optimiser step; returns (scalar statistics, mu, sigma)."""
        batch = {"is_train": True, "prev_actions": inputs["actions"], "obs": self._preproc_obs(inputs["obs"])}
        res = self.model(batch)
        a_loss = self.actor_loss_func(inputs["old_logp_actions"], res["prev_neglogp"], inputs["advantages"],
                                      self.ppo, self.e_clip).mean()
        c_loss = common_losses.critic_loss(self.model, inputs["old_values"], res["values"], self.e_clip,
                                           inputs["returns"], self.clip_value).mean()
        b_loss = self.bound_loss(res["mus"]).mean()
        entropy = res["entropy"].mean()
        model = self._module()
        s_loss = self.symmetry_loss(model, inputs["obs"], res["mus"])
        agent_obs = model.norm_amp_obs(torch.cat([inputs["amp_agent"], inputs["amp_replay"]], dim=0))
        d_loss, d_info = discriminator_loss(model.a2c_network.disc, agent_obs, model.norm_amp_obs(inputs["amp_demo"]),
                                            self.disc_weights)
        loss = (a_loss + self.critic_coef * c_loss - self.entropy_coef * entropy
                + (self.bounds_loss_coef or 0.0) * b_loss + self.amp.disc_coef * d_loss + s_loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.data_parallel.average_gradients()
        skipped = self.guarded_step(loss)
        mu, sigma = res["mus"].detach(), res["sigmas"].detach()
        with torch.no_grad():
            kl = torch_ext.policy_kl(mu, sigma, inputs["mu"], inputs["sigma"])
        stats = {"losses/a_loss": a_loss.detach(), "losses/c_loss": c_loss.detach(),
                 "losses/bounds_loss": b_loss.detach(), "losses/entropy": entropy.detach(),
                 "losses/symmetry_loss": s_loss.detach(),
                 "losses/disc_loss": d_info.pop("disc_loss"), "info/kl": kl, "info/skipped_updates": skipped.float(),
                 **{f"info/{k}": v for k, v in d_info.items()}}
        return stats, mu, sigma

    def _lr_scheduled(self) -> bool:
        """False for a constant learning rate (rl_games' IdentityScheduler): no per-step KL read is needed."""
        return not isinstance(self.scheduler, schedulers.IdentityScheduler)

    def _graphs_usable(self) -> bool:
        """CUDA graphs replay fixed learning rates and coefficients: only with a constant schedule."""
        return self.amp.cuda_graphs and torch.device(self.ppo_device).type == "cuda" and not self._lr_scheduled()

    def calc_gradients(self, input_dict: dict) -> None:
        inputs = self._step_inputs(input_dict)
        if not self._graphs_usable():
            self.train_result = self._gradient_step(inputs)
            return
        normalizer_training = bool(self.normalize_input and self._module().running_mean_std.training)
        if normalizer_training not in self._graphed_steps:   # one graph with the obs normaliser learning, one without
            self._graphed_steps[normalizer_training] = GraphedStep(
                self._gradient_step, collectives=self.data_parallel.active)
        self.train_result = self._graphed_steps[normalizer_training](inputs)

    def train_actor_critic(self, input_dict: dict):
        self.calc_gradients(input_dict)   # train mode was set by train_epoch (the obs normaliser's is not re-set)
        return self.train_result

    def _run_mini_epochs(self) -> dict[str, float]:
        """Every minibatch step of every mini-epoch; statistics are summed on the device and read once."""
        names, total, steps = None, None, 0
        schedule = self.schedule_type if self._lr_scheduled() else None   # constant lr: no KL read at all
        for _ in range(self.mini_epochs_num):
            self.dataset.apply_permutation()
            epoch_kls = []
            for i in range(len(self.dataset)):
                stats, mu, sigma = self.train_actor_critic(self.dataset[i])
                self.dataset.update_mu_sigma(mu, sigma)
                names = names or tuple(stats)
                stacked = torch.stack([stats[name] for name in names]).nan_to_num_(0.0, 0.0, 0.0)
                total = stacked if total is None else total + stacked
                steps += 1
                if schedule == "legacy":
                    self._step_schedule(stats["info/kl"])
                elif schedule == "standard":
                    epoch_kls.append(stats["info/kl"].clone())
            if epoch_kls:
                self._step_schedule(torch_ext.mean_list(epoch_kls))
            if self.normalize_input:
                self._module().running_mean_std.eval()  # obs statistics: first mini-epoch only
        return dict(zip(names, (total / steps).tolist()))

    def _step_schedule(self, kl: torch.Tensor) -> None:
        self.last_lr, self.entropy_coef = self.scheduler.update(
            self.last_lr, self.entropy_coef, self.epoch_num, 0, kl.item())
        self.update_lr(self.last_lr)

    def train_epoch(self) -> dict:
        self.vec_env.set_train_info(self.frame, self)
        self.set_eval()
        play_start = time.perf_counter()
        with torch.no_grad():
            batch_dict = self.play_steps()
        update_start = time.perf_counter()
        self.set_train()
        self.curr_frames = batch_dict.pop("played_frames")
        self.prepare_dataset(batch_dict)
        self.algo_observer.after_steps()
        stats = self._run_mini_epochs()
        self.replay_buffer.store(batch_dict["amp_obs"])
        end = time.perf_counter()
        stats.update(self.rollout_stats)
        stats.update({"performance/play_time": update_start - play_start, "performance/update_time": end - update_start,
                      "performance/step_time": batch_dict["step_time"], "info/last_lr": self.last_lr})
        return stats

    # ------------------------------------------------------------------ loop, logging, checkpoints
    def train(self):
        self.data_parallel.start()
        self.init_tensors()
        self.demo_buffer.fill(max(self.amp.amp_batch_size, 4096))  # full before the first epoch (AWD: near empty)
        self.obs = start_rollout(self, self.resume)
        self._graph_rollout()
        STARTUP.mark("networks, demo buffer and rollout graph")
        self.last_mean_rewards = float(self.last_mean_rewards)
        stop = StopRequest().install()
        try:
            return self._train_epochs(stop)
        finally:
            stop.restore()

    def _train_epochs(self, stop: StopRequest):
        """Epochs until max_epochs / max_frames or a stop request; the last one saves the latest checkpoint."""
        start = self._latest_saved_at = time.perf_counter()
        while True:
            epoch = self.update_epoch()
            stats = self.train_epoch()
            self.dataset.update_values_dict(None)
            self.frame += self.curr_frames
            stats.update(self.finished_episodes.pop_means())
            self.mean_rewards = stats.get("rewards/step", self.mean_rewards)
            add_frame_rates(stats, self.curr_frames)
            self.disc_noise.after_epoch(stats)
            self._write_stats(stats, epoch)
            log(progress_line(stats, epoch, self.max_epochs, self.frame, time.perf_counter() - start))
            STARTUP.report(log)
            self.watchdogs.after_epoch(stats, epoch)
            stopped = self.data_parallel.any_rank(stop.requested)
            done = ((self.max_epochs != -1 and epoch >= self.max_epochs)
                    or (self.max_frames != -1 and self.frame >= self.max_frames) or stopped)
            self._save_checkpoints(epoch, final=done)
            if done:
                log(f"training {'stopped by ' + (stop.signal_name or 'another rank') if stopped else 'finished'} "
                    f"at epoch {epoch}, frame {self.frame}")
                if self.data_parallel.active:
                    log(self.data_parallel.check_identical_weights())
                self.style_monitor.poll(wait=True)
                if self.writer is not None:
                    self.writer.close()  # drains tensorboardX's queue: every scalar is on disk
                return self.last_mean_rewards, epoch

    def _write_stats(self, stats: dict, epoch: int) -> None:
        if self.writer is not None:
            write_stats(self.writer, stats, epoch, self.frame)

    def checkpoint_paths(self, epoch: int) -> tuple[Path, Path]:
        """(latest, numbered) checkpoint paths inside the experiment's nn/ folder."""
        name = self.config["name"]
        return Path(self.nn_dir) / f"{name}.pth", Path(self.nn_dir) / f"{name}_ep{epoch:06d}.pth"

    def _save_checkpoints(self, epoch: int, final: bool) -> None:
        """The latest checkpoint complete (resume); numbered ones (play, export) as `policy_state`, without what only
        a resume reads (the replay buffer, 0.3 GB at 200k rows, the optimiser state, ...)."""
        if not self.data_parallel.ranks.is_main:
            return
        latest, numbered = self.checkpoint_paths(epoch)
        every, interval = self.amp.save_latest_frequency, self.amp.save_latest_interval_s
        due = interval > 0 and time.perf_counter() - self._latest_saved_at >= interval
        save_latest = final or due or (every > 0 and epoch % every == 0)
        save_numbered = final or (self.save_freq > 0 and epoch % self.save_freq == 0)
        if not (save_latest or save_numbered):
            return
        state = self.get_full_state_weights()
        if save_latest:
            save_checkpoint(latest, state)
            self._latest_saved_at = time.perf_counter()
            self.style_monitor.after_save(state, epoch, self.frame)
        if save_numbered:
            save_checkpoint(numbered, policy_state(state))

    def get_full_state_weights(self) -> dict:
        return full_state(self)

    def save(self, fn) -> Path:
        return save_checkpoint(fn, self.get_full_state_weights())

    def restore(self, fn, set_epoch: bool = True) -> None:
        """Resume from a checkpoint: weights, normalisers, optimiser, counters and replay buffer."""
        restore_agent(self, fn, set_epoch)
