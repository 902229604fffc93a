"""Per-foot step bookkeeping for reward terms: air time and swing height of the swing that just ended.

Updated once per policy step from the engine's foot contacts and foot heights. A touchdown (`first_contact`) is a
contact after at least one step in the air; at that step `last_air_time` holds the air time that just ended and
`last_swing_height` the highest point of that swing above the foot's height at its previous contact (the
style benchmark's swing clearance, awd.style.gait). After a reset the stance height is unknown until the first
contact, so a swing that starts in the air scores 0.
"""

from __future__ import annotations

import torch

UNKNOWN_STANCE = 1.0e3  # m: a stance height no foot reaches, so a swing measured from it peaks at 0


class FootTracker:
    def __init__(self, num_envs: int, num_feet: int, dt: float, device, dtype=torch.float32):
        def zeros(kind=dtype):
            return torch.zeros(num_envs, num_feet, device=device, dtype=kind)

        self.dt = dt
        self.air_time, self.last_air_time = zeros(), zeros()
        self.swing_peak, self.last_swing_height = zeros(), zeros()
        self.stance_height = zeros() + UNKNOWN_STANCE
        self.first_contact = zeros(torch.bool)

    def update(self, contact: torch.Tensor, foot_height: torch.Tensor) -> None:
        """`contact` (N, feet) bool and `foot_height` (N, feet) m after this policy step."""
        self.air_time += self.dt
        self.first_contact = contact & (self.air_time > self.dt + 1e-9)
        self.last_air_time = torch.where(self.first_contact, self.air_time - self.dt, self.last_air_time)
        self.air_time = self.air_time.masked_fill(contact, 0.0)
        peak = torch.maximum(self.swing_peak, foot_height - self.stance_height)
        self.last_swing_height = torch.where(self.first_contact, peak, self.last_swing_height)
        self.swing_peak = peak.masked_fill(contact, 0.0)
        self.stance_height = torch.where(contact, foot_height, self.stance_height)

    def reset(self, mask: torch.Tensor) -> None:
        """Forget the steps of the envs where `mask` (N,) is true."""
        rows = mask.view(-1, 1)
        for buffer in (self.air_time, self.last_air_time, self.swing_peak, self.last_swing_height):
            buffer.masked_fill_(rows, 0.0)
        self.stance_height.masked_fill_(rows, UNKNOWN_STANCE)
        self.first_contact.masked_fill_(rows, False)
