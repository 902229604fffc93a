"""Episode statistics of a rollout: the per-episode values an env reports in `infos["episode"]` each step are
summed on the env's device without a host sync, and turned into weighted means once per epoch
(TensorBoard's `episode/*`).
"""

from __future__ import annotations

import torch


def record_episode_infos(infos: dict, sums: dict) -> None:
    """Adds (weight * value, weight) of every episode statistic to `sums[names]`, a (2, K) tensor on the env's
    device, in a handful of kernels (no host sync or copy per step); it is read once per epoch. An env that
    reports `episodes_finished` gives means over the episodes that ended: each is weighted by that count (a step
    where none ended adds nothing); other values, and the count, weigh 1 per step."""
    episode = infos.get("episode") or {}
    count = episode.get("episodes_finished")
    if count is not None:
        count = torch.as_tensor(count, dtype=torch.float32)
        count = count if count.dim() == 0 else count.mean()
    values, weights, names = [], [], []
    for name, value in episode.items():
        try:
            value = torch.as_tensor(value, dtype=torch.float32)
        except (TypeError, ValueError):
            continue
        values.append(value if value.dim() == 0 else value.mean())
        weights.append(count if count is not None and name != "episodes_finished" else None)
        names.append(name)
    if not names:
        return
    names = tuple(names)
    values = torch.stack(values)   # on the env's device: nothing is copied per step
    one = values.new_ones(())
    weights = torch.stack([one if weight is None else weight for weight in weights])
    record = torch.stack([values * weights, weights])
    sums[names] = sums[names] + record if names in sums else record


def episode_means(sums: dict) -> dict[str, float]:
    """Weighted means of the recorded episode values; a value whose weights sum to 0 is left out."""
    means = {}
    for names, (weighted, weight) in sums.items():
        for name, value, total in zip(names, weighted.tolist(), weight.tolist()):
            if total > 0:
                means[f"episode/{name}"] = value / total
    return means


class FinishedEpisodes:
    """Returns and lengths of the episodes that end, summed on the device and read once per epoch; the running
    sums are rl_games' `current_rewards` (N, 1) and `current_lengths` (N,)."""

    def __init__(self, device):
        self.sums = torch.zeros(3, device=device)  # return sum, length sum, count

    def add_step(self, current_rewards: torch.Tensor, current_lengths: torch.Tensor, rewards: torch.Tensor,
                 dones: torch.Tensor) -> None:
        current_rewards.add_(rewards)
        current_lengths.add_(1)
        done = dones.float()
        self.sums += torch.stack([(current_rewards[:, 0] * done).sum(), (current_lengths * done).sum(), done.sum()])
        not_done = 1.0 - done
        current_rewards.mul_(not_done.unsqueeze(1))
        current_lengths.mul_(not_done)

    def pop_means(self) -> dict[str, float]:
        """Mean return and length of the episodes that ended since the last call (none: empty), and reset."""
        returns, lengths, count = self.sums.tolist()
        self.sums.zero_()
        if count == 0:
            return {}
        return {"rewards/step": returns / count, "episode_lengths/step": lengths / count,
                "info/episode_length": lengths / count}
