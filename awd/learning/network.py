"""Actor-critic + discriminator network for rl_games (network `amp`) and its model wrapper (model `amp`).

YAML (under `params.network`, every key optional except `name`):

    network:
      name: amp
      actor:  {units: [512, 256, 128], activation: elu,     # policy MLP -> linear mu head (small init)
               symmetric: false}                            # true: left/right symmetric by construction
      critic: {units: [512, 256, 128], activation: elu}     # separate value MLP -> linear value head
      log_std: {init: -2.9, learnable: false}               # fixed sigma (exp(-2.9) ~ 0.055) or learned
      disc:   {units: [1024, 512], activation: relu, logit_init_scale: 0.01}

The model (`params.model.name: amp`) is rl_games' ModelA2CContinuousLogStd (so PPO sees the usual
`mus`, `sigmas`, `values`, `neglogpacs`...) plus a RunningMeanStd for AMP inputs (`amp_input_mean_std`)
and `disc_logits(amp_obs)`; forward also returns `disc_logits` when the input dict holds `amp_obs`. Its
normalisers update their statistics in place (the same tensors for the whole run), which the agent's CUDA
graphs need: a captured graph keeps reading the tensors it saw at capture.
Building needs `amp_input_shape` in the build config (the AMP agent and player pass it).

A symmetric actor's mean action is (f(o) + M_a f(M_o o)) / 2 for its MLP f and the env's left/right mirrors of
observations and actions (awd.learning.symmetry.mirror_maps), so the mirrored robot gets exactly the mirrored
action, and its log-std is the same for each joint and its counterpart; its observation normaliser keeps the
statistics of the observations and their mirror images, so that normalising commutes with mirroring. The build
config then needs `mirror`, a callable returning those maps.

The model exports itself: `Network.export_actor()` is the deployable actor (`DeployedActor`: observation
normaliser, actor MLP, mu head, clip to [-1, 1]) that awd.export writes as ONNX and TorchScript.
"""

from __future__ import annotations

import copy

import torch
from rl_games.algos_torch import models, network_builder
from rl_games.algos_torch.running_mean_std import RunningMeanStd
from torch import nn

from awd.errors import AwdError
from awd.learning.discriminator import Discriminator, make_mlp

CONFIG_SOURCE = "train config"
DEFAULTS = {
    "actor": {"units": [512, 256, 128], "activation": "elu", "symmetric": False},
    "critic": {"units": [512, 256, 128], "activation": "elu"},
    "log_std": {"init": -2.9, "learnable": False},
    "disc": {"units": [1024, 512], "activation": "relu", "logit_init_scale": 0.01},
}


def _section(params: dict, name: str) -> dict:
    """DEFAULTS[name] updated with params[name]; unknown keys and bad unit lists raise AwdError."""
    given = params.get(name) or {}
    if not isinstance(given, dict):
        raise AwdError(CONFIG_SOURCE, f"network.{name}", f"expected a mapping, found {given!r}")
    unknown = sorted(set(given) - set(DEFAULTS[name]))
    if unknown:
        raise AwdError(CONFIG_SOURCE, f"network.{name}", f"unknown keys {unknown}; expected {sorted(DEFAULTS[name])}")
    merged = {**DEFAULTS[name], **given}
    units = merged.get("units")
    if units is not None and (not isinstance(units, list) or not all(isinstance(u, int) and u > 0 for u in units)):
        raise AwdError(CONFIG_SOURCE, f"network.{name}.units", f"expected a list of positive ints, found {units!r}")
    return merged


class ActorMean:
    """The mean action of `actor_mlp` and `mu`, averaged with the mirrored one's when `symmetric`."""

    def actor_mean(self, obs: torch.Tensor) -> torch.Tensor:
        """The policy's mean action for normalised observations (before clipping)."""
        if not self.symmetric:
            return self.mu(self.actor_mlp(obs))
        both = self.mu(self.actor_mlp(with_mirror(obs, self.obs_perm, self.obs_signs)))
        return mean_with_mirror(both, self.act_perm, self.act_signs)


class AMPActorCritic(ActorMean, nn.Module):
    """Separate actor and critic MLPs, a Gaussian policy head with fixed or learned log-std, and D."""

    def __init__(self, params: dict, obs_size: int, actions_num: int, value_size: int, amp_size: int, mirror=None):
        super().__init__()
        actor, critic = _section(params, "actor"), _section(params, "critic")
        self.symmetric = actor["symmetric"]
        if not isinstance(self.symmetric, bool) or (self.symmetric and mirror is None):
            raise AwdError(CONFIG_SOURCE, "network.actor.symmetric", f"expected true (with an env that can be "
                           f"mirrored: observation terms and a robot spec) or false, found {self.symmetric!r}")
        if self.symmetric:
            register_mirror(self, mirror())
        log_std, disc = _section(params, "log_std"), _section(params, "disc")
        self.actor_mlp = make_mlp(obs_size, actor["units"], actor["activation"])
        self.critic_mlp = make_mlp(obs_size, critic["units"], critic["activation"])
        self.mu = nn.Linear(actor["units"][-1] if actor["units"] else obs_size, actions_num)
        self.value = nn.Linear(critic["units"][-1] if critic["units"] else obs_size, value_size)
        nn.init.uniform_(self.mu.weight, -0.01, 0.01)
        nn.init.zeros_(self.mu.bias)
        self.sigma = nn.Parameter(torch.full((actions_num,), float(log_std["init"])),
                                  requires_grad=bool(log_std["learnable"]))
        self.disc = Discriminator(amp_size, disc["units"], disc["activation"], float(disc["logit_init_scale"]))

    # rl_games network interface
    def is_rnn(self) -> bool:
        return False

    def is_separate_critic(self) -> bool:
        return True

    def get_default_rnn_state(self):
        return None

    def get_aux_loss(self):
        return None

    def get_value_layer(self) -> nn.Module:
        return self.value

    def forward(self, input_dict: dict):
        """(mu, log_std, value, rnn_states) as ModelA2CContinuousLogStd expects."""
        obs = input_dict["obs"]
        mu = self.actor_mean(obs)
        value = self.value(self.critic_mlp(obs))
        log_std = (self.sigma + self.sigma[self.act_perm]) / 2 if self.symmetric else self.sigma
        return mu, log_std.expand_as(mu), value, None

    def actor_parameters(self) -> list[nn.Parameter]:
        return [p for p in [*self.actor_mlp.parameters(), *self.mu.parameters(), self.sigma] if p.requires_grad]

    def critic_parameters(self) -> list[nn.Parameter]:
        return [*self.critic_mlp.parameters(), *self.value.parameters()]

    def disc_parameters(self) -> list[nn.Parameter]:
        return list(self.disc.parameters())


class DeployedActor(ActorMean, nn.Module):
    """The deterministic policy as deployed: raw observations [batch, obs] -> actions [batch, act] in [-1, 1].

    With `normalize`, observations go through the trained RunningMeanStd exactly as in training,
    clamp((obs - mean) / sqrt(var + epsilon), -5, 5); without it the caller normalises (raw actor)."""

    __constants__ = ["symmetric"]   # so TorchScript compiles the one branch of actor_mean that runs

    def __init__(self, network: AMPActorCritic, running_mean_std: RunningMeanStd | None):
        super().__init__()
        self.actor_mlp = copy.deepcopy(network.actor_mlp)
        self.mu = copy.deepcopy(network.mu)
        self.symmetric = network.symmetric
        if self.symmetric:
            register_mirror(self, [getattr(network, name) for name in MIRROR_BUFFERS])
        self.normalize = running_mean_std is not None
        size = self.actor_mlp[0].in_features if len(self.actor_mlp) else self.mu.in_features
        mean, var, epsilon = torch.zeros(size), torch.ones(size), 0.0
        if running_mean_std is not None:  # float32 statistics, as RunningMeanStd.forward uses them
            mean, var = running_mean_std.running_mean.float(), running_mean_std.running_var.float()
            epsilon = float(running_mean_std.epsilon)
        self.register_buffer("obs_mean", mean.detach().clone())
        self.register_buffer("obs_var", var.detach().clone())
        self.epsilon = epsilon

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            obs = torch.clamp((obs - self.obs_mean) / torch.sqrt(self.obs_var + self.epsilon), min=-5.0, max=5.0)
        return torch.clamp(self.actor_mean(obs), min=-1.0, max=1.0)


MIRROR_BUFFERS = ("obs_perm", "obs_signs", "act_perm", "act_signs")


def register_mirror(module: nn.Module, maps) -> None:
    """The mirror maps as buffers that move with the module and stay out of its state dict."""
    for name, values in zip(MIRROR_BUFFERS, maps):
        module.register_buffer(name, torch.as_tensor(values).clone(), persistent=False)


def mirrored(x: torch.Tensor, perm: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """The left/right mirror image of observations or actions x: signs * x[..., perm]."""
    return x.index_select(-1, perm) * signs


def with_mirror(obs: torch.Tensor, perm: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """(2, ...): the observations and their mirror images, for one actor pass."""
    return torch.stack([obs, mirrored(obs, perm, signs)])


def mean_with_mirror(both: torch.Tensor, perm: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """The mean of the actions for the observations and the mirrored actions for their mirror images."""
    return (both[0] + mirrored(both[1], perm, signs)) / 2


class AMPNetworkBuilder(network_builder.NetworkBuilder):
    """rl_games network builder `amp`: keeps the YAML `network` section, builds AMPActorCritic."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.params: dict = {}

    def load(self, params: dict) -> None:
        self.params = params

    def build(self, name, **kwargs) -> AMPActorCritic:
        if "amp_input_shape" not in kwargs:
            raise ValueError("the `amp` network needs `amp_input_shape` in its build config (use the amp algo/player)")
        input_shape = kwargs["input_shape"]
        if len(input_shape) != 1:
            raise AwdError(CONFIG_SOURCE, "observation_space",
                           f"expected a flat observation, found shape {input_shape}")
        return AMPActorCritic(self.params, int(input_shape[0]), int(kwargs["actions_num"]),
                              int(kwargs.get("value_size", 1)), int(kwargs["amp_input_shape"][0]),
                              kwargs.get("mirror"))


class InPlaceRunningMeanStd(RunningMeanStd):
    """rl_games' RunningMeanStd whose updates are written into its existing buffers; a `moments_reducer` (set by
    data-parallel training, awd.learning.distributed) merges each batch's moments over the ranks first."""

    moments_reducer = None
    mirrored = False

    def mirror_statistics(self, perm: torch.Tensor, signs: torch.Tensor) -> None:
        """From now on, each batch's moments are those of the batch and its mirror image (x -> signs * x[perm])."""
        self.register_buffer("mirror_perm", perm.clone(), persistent=False)
        self.register_buffer("mirror_signs", signs.clone(), persistent=False)
        self.mirrored = True

    def _update_mean_var_count_from_moments(self, mean, var, count, batch_mean, batch_var, batch_count: int):
        if self.mirrored:
            mirrored_mean = mirrored(batch_mean, self.mirror_perm, self.mirror_signs)
            batch_var = (batch_var + batch_var[..., self.mirror_perm]) / 2 + (batch_mean - mirrored_mean) ** 2 / 4
            batch_mean = (batch_mean + mirrored_mean) / 2
        if self.moments_reducer is not None:
            batch_mean, batch_var, batch_count = self.moments_reducer(batch_mean, batch_var, batch_count)
        new_mean, new_var, new_count = super()._update_mean_var_count_from_moments(
            mean, var, count, batch_mean, batch_var, batch_count)
        mean.copy_(new_mean)
        var.copy_(new_var)
        count.copy_(new_count)
        return mean, var, count


class ModelAMPContinuous(models.ModelA2CContinuousLogStd):
    """rl_games model `amp`: continuous log-std policy plus the AMP input normaliser and disc logits."""

    def build(self, config: dict) -> "ModelAMPContinuous.Network":
        net = self.network_builder.build(self.model_class, **config)
        return self.Network(net, obs_shape=config["input_shape"],
                            normalize_value=config.get("normalize_value", False),
                            normalize_input=config.get("normalize_input", False),
                            value_size=config.get("value_size", 1),
                            amp_input_shape=tuple(config["amp_input_shape"]),
                            normalize_amp_input=config.get("normalize_amp_input", True))

    class Network(models.ModelA2CContinuousLogStd.Network):
        def __init__(self, a2c_network, amp_input_shape, normalize_amp_input=True, **kwargs):
            super().__init__(a2c_network, **kwargs)
            if self.normalize_input:
                self.running_mean_std = InPlaceRunningMeanStd(kwargs["obs_shape"])
                if a2c_network.symmetric:
                    self.running_mean_std.mirror_statistics(a2c_network.obs_perm, a2c_network.obs_signs)
            if self.normalize_value:
                self.value_mean_std = InPlaceRunningMeanStd((self.value_size,))
            self.normalize_amp_input = normalize_amp_input
            self.amp_input_mean_std = InPlaceRunningMeanStd(amp_input_shape)
            self.amp_input_mean_std.eval()

        def norm_amp_obs(self, amp_obs: torch.Tensor) -> torch.Tensor:
            """Normalise AMP obs with the running statistics (no update here; see update_amp_stats)."""
            if not self.normalize_amp_input:
                return amp_obs
            with torch.no_grad():
                self.amp_input_mean_std.eval()
                return self.amp_input_mean_std(amp_obs)

        def update_amp_stats(self, amp_obs: torch.Tensor) -> None:
            """Fold a batch of raw AMP obs into the running mean/var."""
            if self.normalize_amp_input:
                with torch.no_grad():
                    self.amp_input_mean_std.train()
                    self.amp_input_mean_std(amp_obs)
                    self.amp_input_mean_std.eval()

        def _act(self, input_dict: dict) -> dict:
            """The rollout outputs of rl_games' model, with actions drawn as mu + sigma * noise: torch.normal
            checks sigma >= 0 on the host, a GPU synchronisation at every step."""
            input_dict["obs"] = self.norm_obs(input_dict["obs"])
            mu, logstd, value, states = self.a2c_network(input_dict)
            sigma = torch.exp(logstd)
            actions = mu + sigma * torch.randn_like(mu)
            return {"neglogpacs": torch.squeeze(self.neglogp(actions, mu, sigma, logstd)),
                    "values": self.denorm_value(value), "actions": actions, "rnn_states": states, "mus": mu,
                    "sigmas": sigma}

        def disc_logits(self, amp_obs: torch.Tensor, normalized: bool = False) -> torch.Tensor:
            """Discriminator logits [batch, 1] of raw (or already normalised) AMP obs."""
            return self.a2c_network.disc(amp_obs if normalized else self.norm_amp_obs(amp_obs))

        def export_actor(self, normalize: bool = True) -> DeployedActor:
            """A standalone copy of the deterministic actor (eval mode, CPU), with the observation normaliser
            baked in when `normalize` and the model normalises its input."""
            stats = self.running_mean_std if normalize and self.normalize_input else None
            return DeployedActor(self.a2c_network, stats).cpu().eval()

        def forward(self, input_dict: dict) -> dict:
            result = super().forward(input_dict) if input_dict.get("is_train", True) else self._act(input_dict)
            if input_dict.get("amp_obs") is not None:
                result["disc_logits"] = self.disc_logits(input_dict["amp_obs"])
            return result
