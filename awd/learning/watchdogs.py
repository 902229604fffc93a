"""Watching a run's epoch statistics for what a user must hear about:
- a saturated discriminator (agent and demo accuracy, on clean inputs, above `saturation_acc` for
  `saturation_epochs` epochs): a warning, once per streak;
- exploding physics (more than `INVALID_STOP_RATE` of the episodes ending in an invalid state, for
  `INVALID_STOP_EPOCHS` epochs in a row): the run stops with a one-line error naming the likely causes (the latest
  checkpoint saved before it stays);
- a robot that cannot stand (every episode a fall within `SHORT_FALL_STEPS` steps for `FALL_WARN_EPOCHS` epochs,
  e.g. absurd gains): a warning, once per streak;
- updates skipped for a non-finite loss or gradient (awd.learning.guarded_step): a warning at the first epoch of
  a streak, and a stop with a one-line error when every update of `SKIPPED_STOP_EPOCHS` epochs in a row was
  skipped (the weights never saw a non-finite value)."""

from __future__ import annotations

from awd.errors import AwdError

INVALID_STOP_RATE = 0.5
INVALID_STOP_EPOCHS = 20
SHORT_FALL_STEPS = 50  # 1 s at 50 Hz
FALL_WARN_EPOCHS = 50
SKIPPED_STOP_EPOCHS = 3


class Watchdogs:
    def __init__(self, saturation_acc: float, saturation_epochs: int, log):
        self.saturation_acc, self.saturation_epochs, self.log = saturation_acc, saturation_epochs, log
        self.saturated_epochs = 0
        self.invalid_epochs = 0
        self.falling_epochs = 0
        self.skipping_epochs = 0
        self.all_skipped_epochs = 0

    def after_epoch(self, stats: dict, epoch: int) -> None:
        self._saturation(stats, epoch)
        self._invalid(stats, epoch)
        self._falls(stats, epoch)
        self._skipped(stats, epoch)

    def _saturation(self, stats: dict, epoch: int) -> None:
        level = self.saturation_acc
        agent, demo = (stats.get(f"info/disc_{side}_acc_clean", stats[f"info/disc_{side}_acc"])
                       for side in ("agent", "demo"))
        saturated = agent > level and demo > level
        self.saturated_epochs = self.saturated_epochs + 1 if saturated else 0
        if self.saturated_epochs == self.saturation_epochs:
            self.log(f"WARNING: discriminator saturated (agent and demo accuracy > {level}) for "
                     f"{self.saturated_epochs} epochs at epoch {epoch}; the style reward carries little signal "
                     "(benchmarks/feature_probe.py shows what tells the policy from its clips)")

    def _falls(self, stats: dict, epoch: int) -> None:
        falling = (stats.get("info/fall_rate", 0.0) >= 0.99
                   and stats.get("info/episode_length", SHORT_FALL_STEPS + 1) <= SHORT_FALL_STEPS)
        self.falling_epochs = self.falling_epochs + 1 if falling else 0
        if self.falling_epochs == FALL_WARN_EPOCHS:
            self.log(f"WARNING: every episode ended in a fall within {SHORT_FALL_STEPS} steps for {FALL_WARN_EPOCHS} "
                     f"epochs, up to epoch {epoch}: check the robot's gains (kp, kd), effort limits and start pose")

    def _invalid(self, stats: dict, epoch: int) -> None:
        rate = stats.get("episode/invalid_rate", 0.0)
        self.invalid_epochs = self.invalid_epochs + 1 if rate > INVALID_STOP_RATE else 0
        if self.invalid_epochs == INVALID_STOP_EPOCHS:
            raise AwdError("physics", "episode/invalid_rate", f"{rate:.0%} of the episodes ended in an invalid "
                           f"(non-finite or diverging) state for {INVALID_STOP_EPOCHS} epochs, up to epoch {epoch}: "
                           "the simulation explodes; check the robot's gains (kp, kd), pushes and the time step")

    def _skipped(self, stats: dict, epoch: int) -> None:
        share = stats.get("info/skipped_updates", 0.0)
        self.skipping_epochs = self.skipping_epochs + 1 if share > 0 else 0
        self.all_skipped_epochs = self.all_skipped_epochs + 1 if share >= 1.0 else 0
        if self.skipping_epochs == 1:
            self.log(f"WARNING: {share:.0%} of the updates of epoch {epoch} were skipped: non-finite loss or gradient")
        if self.all_skipped_epochs == SKIPPED_STOP_EPOCHS:
            raise AwdError("training", "losses", f"every update of {SKIPPED_STOP_EPOCHS} epochs in a row, up to epoch "
                           f"{epoch}, had a non-finite loss or gradient (skipped: the weights are unharmed); check "
                           "the clips for absurd values (tools: plot_clip), the learning rates and the reward scales")
