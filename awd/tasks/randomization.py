"""Random draws and domain randomisation of a Duckling task.

`Draws` is the task's one source of randomness (its seeded generator on the task device), so that a seed decides
every command, reset and randomisation. `DomainRandomization` holds what the `domain_rand` section turns on:
per-episode action and observation delays (history buffers, newest first), observation noise, pushes and the
engine-side draws (friction, torque scale, trunk mass).

The delays and the noise are full-size masked updates, free of host synchronisation. Pushes and the engine-side
draws go through the engine's id-based setters, so they gather ids (a host sync) while they are enabled; the task
step is then not capturable as a CUDA graph (`host_reads`).
"""

from __future__ import annotations

import torch

from awd.tasks.config import DomainRandConfig

ENGINE_SIDE = ("friction", "torque_scale", "trunk_mass")


class Draws:
    def __init__(self, generator: torch.Generator, device: torch.device, dtype: torch.dtype):
        self.generator, self.device, self.dtype = generator, device, dtype

    def rand(self, *shape) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def uniform(self, low: float, high: float, *shape) -> torch.Tensor:
        return low + (high - low) * self.rand(*shape)

    def randint(self, high_inclusive: int, n: int) -> torch.Tensor:
        return torch.randint(0, high_inclusive + 1, (n,), generator=self.generator, device=self.device)

    def normal(self, shape) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)


def select_delayed(buffer: torch.Tensor, delay: torch.Tensor) -> torch.Tensor:
    """buffer[i, delay[i]] for a (N, D, k) history buffer (newest first), as a new (N, k) tensor."""
    if buffer.shape[1] == 1:
        return buffer[:, 0].clone()
    index = delay.view(-1, 1, 1).expand(-1, 1, buffer.shape[2])
    return buffer.gather(1, index).squeeze(1)


class DomainRandomization:
    state_attributes = ("action_buffer", "action_delay", "obs_buffer", "obs_delay", "obs_buffer_stale")

    def __init__(self, cfg: DomainRandConfig, draws: Draws, engine, num_actions: int, num_obs: int, dt: float):
        N, device = int(engine.num_envs), draws.device

        def zeros(*shape, dtype=draws.dtype):
            return torch.zeros(*shape, device=device, dtype=dtype)

        self.cfg, self.draws, self.engine, self.num_envs = cfg, draws, engine, N
        self.action_buffer = zeros(N, cfg.action_delay.max_steps + 1, num_actions)
        self.action_delay = zeros(N, dtype=torch.long)
        self.obs_buffer = zeros(N, cfg.obs_delay.max_steps + 1, num_obs)
        self.obs_delay = zeros(N, dtype=torch.long)
        self.obs_buffer_stale = torch.ones(N, dtype=torch.bool, device=device)
        self.push_interval_steps = max(1, int(round(cfg.push.interval_s / dt)))

    @property
    def host_reads(self) -> bool:
        """Pushes or an engine-side draw are on: they gather env ids on the host."""
        return any(getattr(self.cfg, name).enabled for name in ("push", *ENGINE_SIDE))

    def reset(self, mask: torch.Tensor) -> None:
        """Per-episode draws of the envs where `mask` (N,) is true, and their delay histories forgotten."""
        cfg, draws = self.cfg, self.draws
        self.obs_buffer_stale |= mask
        if cfg.action_delay.enabled:
            self.action_buffer.masked_fill_(mask.view(-1, 1, 1), 0.0)
            self.action_delay = torch.where(mask, draws.randint(cfg.action_delay.max_steps, self.num_envs),
                                            self.action_delay)
        if cfg.obs_delay.enabled:
            self.obs_delay = torch.where(mask, draws.randint(cfg.obs_delay.max_steps, self.num_envs), self.obs_delay)
        if any(getattr(cfg, name).enabled for name in ENGINE_SIDE):
            self._randomize_engine(mask.nonzero().flatten())

    def _randomize_engine(self, env_ids: torch.Tensor) -> None:
        cfg, draws, m = self.cfg, self.draws, env_ids.numel()
        if m == 0:
            return
        if cfg.friction.enabled:
            self.engine.set_friction_scale(env_ids, draws.uniform(*cfg.friction.range, m))
        if cfg.torque_scale.enabled:
            num_joints = self.action_buffer.shape[-1]
            self.engine.set_torque_scale(env_ids, draws.uniform(*cfg.torque_scale.range, m, num_joints))
        if cfg.trunk_mass.enabled:
            self.engine.set_mass_offset(env_ids, draws.uniform(*cfg.trunk_mass.mass_delta, m),
                                        draws.uniform(*cfg.trunk_mass.com_offset, m, 3))

    def delayed_actions(self, actions: torch.Tensor) -> torch.Tensor:
        if not self.cfg.action_delay.enabled:
            return actions
        self.action_buffer = torch.roll(self.action_buffer, 1, dims=1)
        self.action_buffer[:, 0] = actions
        return select_delayed(self.action_buffer, self.action_delay)

    def delayed_obs(self, obs: torch.Tensor) -> torch.Tensor:
        """`obs` (N, num_obs) of this step, or per env the one `obs_delay` steps older while the delay is on."""
        if not self.cfg.obs_delay.enabled:
            self.obs_buffer_stale.fill_(False)
            return obs
        buffer = torch.roll(self.obs_buffer, 1, dims=1)
        buffer[:, 0] = obs
        stale = self.obs_buffer_stale.view(-1, 1, 1)  # new episodes: the whole history is the first obs
        self.obs_buffer = torch.where(stale, obs.unsqueeze(1).expand_as(buffer), buffer)
        self.obs_buffer_stale.fill_(False)
        return select_delayed(self.obs_buffer, self.obs_delay)

    def noisy(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """`value` with the `obs_noise` of observation `name` added (value itself while the noise is off or the
        observation has none)."""
        noise = self.cfg.obs_noise
        scale = getattr(noise, name, None) if noise.enabled else None
        return value if scale is None else value + scale * self.draws.normal(value.shape)

    def apply_pushes(self, progress: torch.Tensor) -> None:
        push = self.cfg.push
        if not push.enabled:
            return
        due = (progress > 0) & (progress % self.push_interval_steps == 0)
        env_ids = due.nonzero().flatten()
        if env_ids.numel():
            velocity = self.draws.uniform(-push.max_vel_xy, push.max_vel_xy, env_ids.numel(), 2)
            self.engine.apply_root_velocity(env_ids, velocity)
