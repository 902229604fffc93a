"""Mirror-symmetry loss for the actor (`symmetry_coef` in the train config; 0: off): the policy's mean action on
the left/right-mirrored observation should be the mirrored mean action, coef * mean((mu(M_o o) - M_a mu(o))^2),
with the target detached (the mirror loss of rsl_rl's symmetry extension). The observation mirror comes from the
task's observation terms (awd.tasks.observations), the action and joint mirror from the robot's MJCF
(awd.robot.mirror), so no index map is written by hand. `batch_share` (`symmetry_batch_share`) < 1 reads every
round(1 / share)-th row of each minibatch only: the mirrored actor pass cost the G1's update 0.03 s of 0.18 s an
epoch at the full minibatch (docs/style_rounds.md, twenty-third round). `mirror_maps` gives the same mirror to the
symmetric actor (`network.actor.symmetric`, awd.learning.network), which acts symmetrically by construction.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from awd.errors import AwdError
from awd.learning.network import mirrored
from awd.robot.mirror import default_pose_asymmetry, joint_mirror


def mirror_maps(vec_env, field: str) -> tuple:
    """(obs_perm, obs_signs, act_perm, act_signs) as numpy arrays: mirrored[i] = signs[i] * x[perm[i]] for an
    observation and an action of the env; AwdError naming `field` (the setting that asked) when the env cannot be
    mirrored."""
    env = getattr(vec_env, "env", vec_env)
    if not hasattr(env, "observations") or not hasattr(env, "spec"):
        raise AwdError("train config", field, "the env has no observation terms and robot spec to mirror; turn it off")
    joints = joint_mirror(env.spec)
    asymmetry = default_pose_asymmetry(env.spec, joints)
    if asymmetry > 1e-6:
        raise AwdError(env.spec.spec_path, "joints.default", f"the default pose is not left/right symmetric "
                       f"(largest difference {asymmetry:.3g} rad); {field} needs one")
    obs_perm, obs_signs = env.observations.mirror(joints)
    return (np.asarray(obs_perm, dtype=np.int64), np.asarray(obs_signs, dtype=np.float32),
            np.asarray(joints.perm, dtype=np.int64), np.asarray(joints.signs, dtype=np.float32))


def actor_mirror(vec_env):
    """The model build config's `mirror` for a symmetric actor: the env's mirror maps, computed when asked."""
    return functools.partial(mirror_maps, vec_env, "network.actor.symmetric")


class SymmetryLoss:
    """A no-op returning 0 when `coef` is 0."""

    def __init__(self, coef: float, vec_env, device, batch_share: float = 1.0):
        self.coef = float(coef)
        self.stride = max(1, round(1.0 / batch_share))
        if not self.coef:
            return
        maps = [torch.as_tensor(values, device=device) for values in mirror_maps(vec_env, "symmetry_coef")]
        self.obs_perm, self.obs_signs, self.act_perm, self.act_signs = maps

    @classmethod
    def from_settings(cls, amp, vec_env, device) -> "SymmetryLoss":
        """From the agent's AMPSettings (`symmetry_coef`, `symmetry_batch_share`)."""
        return cls(amp.symmetry_coef, vec_env, device, amp.symmetry_batch_share)

    def mirror_obs(self, obs: torch.Tensor) -> torch.Tensor:
        return mirrored(obs, self.obs_perm, self.obs_signs)

    def mirror_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return mirrored(actions, self.act_perm, self.act_signs)

    def __call__(self, model, raw_obs: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """The weighted loss for raw (unnormalised) observations and the policy's mean actions on them."""
        network = model.a2c_network
        if not self.coef or network.symmetric:   # a symmetric actor mirrors by construction: the loss is 0
            return torch.zeros((), device=mu.device)
        raw_obs, mu = raw_obs[::self.stride], mu[::self.stride]
        mirrored = self.mirror_obs(raw_obs)
        normalizer = getattr(model, "running_mean_std", None) if model.normalize_input else None
        if normalizer is not None:
            learning = normalizer.training
            normalizer.eval()   # the mirrored batch does not enter the statistics
            mirrored = normalizer(mirrored)
            normalizer.train(learning)
        mirrored_mu = network.actor_mean(mirrored)
        return self.coef * (mirrored_mu - self.mirror_actions(mu.detach())).pow(2).mean()
