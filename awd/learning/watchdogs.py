"""Watching a run's epoch statistics for what a user must hear about:
- a saturated discriminator (agent and demo accuracy above `saturation_acc` for `saturation_epochs` epochs): a
  warning, once per streak;
- exploding physics (more than `INVALID_STOP_RATE` of the episodes ending in an invalid state, for
  `INVALID_STOP_EPOCHS` epochs in a row): the run stops with a one-line error naming the likely causes (the latest
  checkpoint saved before it stays)."""

from __future__ import annotations

from awd.errors import AwdError

INVALID_STOP_RATE = 0.5
INVALID_STOP_EPOCHS = 20


class Watchdogs:
    def __init__(self, saturation_acc: float, saturation_epochs: int, log):
        self.saturation_acc, self.saturation_epochs, self.log = saturation_acc, saturation_epochs, log
        self.saturated_epochs = 0
        self.invalid_epochs = 0

    def after_epoch(self, stats: dict, epoch: int) -> None:
        self._saturation(stats, epoch)
        self._invalid(stats, epoch)

    def _saturation(self, stats: dict, epoch: int) -> None:
        level = self.saturation_acc
        saturated = stats["info/disc_agent_acc"] > level and stats["info/disc_demo_acc"] > level
        self.saturated_epochs = self.saturated_epochs + 1 if saturated else 0
        if self.saturated_epochs == self.saturation_epochs:
            self.log(f"WARNING: discriminator saturated (agent and demo accuracy > {level}) for "
                     f"{self.saturated_epochs} epochs at epoch {epoch}; the style reward carries little signal "
                     "(benchmarks/feature_probe.py shows what tells the policy from its clips)")

    def _invalid(self, stats: dict, epoch: int) -> None:
        rate = stats.get("episode/invalid_rate", 0.0)
        self.invalid_epochs = self.invalid_epochs + 1 if rate > INVALID_STOP_RATE else 0
        if self.invalid_epochs == INVALID_STOP_EPOCHS:
            raise AwdError("physics", "episode/invalid_rate", f"{rate:.0%} of the episodes ended in an invalid "
                           f"(non-finite or diverging) state for {INVALID_STOP_EPOCHS} epochs, up to epoch {epoch}: "
                           "the simulation explodes; check the robot's gains (kp, kd), pushes and the time step")
