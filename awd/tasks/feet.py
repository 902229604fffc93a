"""Per-foot step bookkeeping for reward terms: air time and swing height of the swing that just ended, and each
foot's current height above its last stance and its horizontal speed.

Updated once per policy step from the engine's foot contacts and foot positions. A touchdown (`first_contact`) is a
contact after at least one step in the air; at that step `last_air_time` holds the air time that just ended and
`last_swing_height` the highest point of that swing above the foot's height at its previous contact (the
style benchmark's swing clearance, awd.style.gait). After a reset the stance height is unknown until the first
contact, so a swing that starts in the air scores 0 and the current height reads as the target of any clearance
term (`height_above_stance` is +inf there); the horizontal speed is 0 on the first step after a reset.
"""

from __future__ import annotations

import torch

UNKNOWN_STANCE = 1.0e3  # m: a stance height no foot reaches, so a swing measured from it peaks at 0


class FootTracker:
    state_attributes = ("air_time", "last_air_time", "swing_peak", "last_swing_height", "stance_height",
                        "first_contact", "height_above_stance", "speed_xy", "last_xy", "xy_known")

    def __init__(self, num_envs: int, num_feet: int, dt: float, device, dtype=torch.float32):
        def zeros(kind=dtype):
            return torch.zeros(num_envs, num_feet, device=device, dtype=kind)

        self.dt = dt
        self.air_time, self.last_air_time = zeros(), zeros()
        self.swing_peak, self.last_swing_height = zeros(), zeros()
        self.stance_height = zeros() + UNKNOWN_STANCE
        self.first_contact = zeros(torch.bool)
        self.height_above_stance, self.speed_xy = zeros(), zeros()
        self.last_xy = torch.zeros(num_envs, num_feet, 2, device=device, dtype=dtype)
        self.xy_known = zeros(torch.bool)

    def update(self, contact: torch.Tensor, foot_pos: torch.Tensor) -> None:
        """`contact` (N, feet) bool and `foot_pos` (N, feet, 3) world positions (m) after this policy step."""
        foot_height, foot_xy = foot_pos[..., 2], foot_pos[..., :2]
        speed = (foot_xy - self.last_xy).norm(dim=-1) / self.dt
        self.speed_xy = speed.masked_fill(~self.xy_known, 0.0)
        self.last_xy.copy_(foot_xy)
        self.xy_known.fill_(True)
        self.air_time += self.dt
        self.first_contact = contact & (self.air_time > self.dt + 1e-9)
        self.last_air_time = torch.where(self.first_contact, self.air_time - self.dt, self.last_air_time)
        self.air_time = self.air_time.masked_fill(contact, 0.0)
        peak = torch.maximum(self.swing_peak, foot_height - self.stance_height)
        self.last_swing_height = torch.where(self.first_contact, peak, self.last_swing_height)
        self.swing_peak = peak.masked_fill(contact, 0.0)
        self.stance_height = torch.where(contact, foot_height, self.stance_height)
        above = foot_height - self.stance_height
        self.height_above_stance = above.masked_fill(self.stance_height >= UNKNOWN_STANCE, float("inf"))

    def reset(self, mask: torch.Tensor) -> None:
        """Forget the steps of the envs where `mask` (N,) is true."""
        rows = mask.view(-1, 1)
        for buffer in (self.air_time, self.last_air_time, self.swing_peak, self.last_swing_height):
            buffer.masked_fill_(rows, 0.0)
        self.stance_height.masked_fill_(rows, UNKNOWN_STANCE)
        self.first_contact.masked_fill_(rows, False)
        self.xy_known.masked_fill_(rows, False)
