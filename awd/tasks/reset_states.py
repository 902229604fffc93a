"""Where a Duckling task's envs restart: the default pose at rest, or a state sampled from the reference motion
(`init.mode`: Default | Start | Random | Hybrid) together with the clip's AMP window ending there.

Engine states are packed (N, S) rows (root pos, quat, lin vel, ang vel, joint pos, joint vel; `split` gives the
engine's views), so that a masked reset is one blend. On an accelerator the reference states are built for all
N envs and blended by mask (no host sync); with `compact` (the CPU) only for the envs that start from one.
"""

from __future__ import annotations

import torch

from awd.tasks.amp_features import frame_from_motion
from awd.tasks.randomization import Draws


def same_device(a: torch.device, b: torch.device) -> bool:
    def index(device):
        return torch.cuda.current_device() if device.type == "cuda" and device.index is None else device.index
    return a.type == b.type and index(a) == index(b)


class ResetStates:
    def __init__(self, task, draws: Draws):
        self.spec, self.init, self.motion_lib = task.spec, task.cfg.init, task.motion_lib
        self.amp_layout, self.dt, self.draws = task.amp_layout, task.dt, draws
        self.num_envs, self.device, self.dtype = task.num_envs, task.device, task.dtype
        n = task.num_actions
        self.sizes = (3, 4, 3, 3, n, n)
        origins = getattr(task.engine, "env_origins", None)
        zeros = torch.zeros(self.num_envs, 3, device=self.device, dtype=self.dtype)
        self.env_origins = zeros if origins is None else origins.to(self.device, self.dtype).clone()
        self.default = self._default_state(task.default_joint_pos)
        self.sampled = None  # the last reset's (clip ids, times) per env, where it started from a clip

    def split(self, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """A packed state (N, S) as the engine's (root pos, quat, lin vel, ang vel, joint pos, joint vel) views."""
        return state.split(self.sizes, dim=-1)

    def _default_state(self, default_joint_pos: torch.Tensor) -> torch.Tensor:
        """The default pose at the env origins, at rest (the origins are fixed for the engine's lifetime)."""
        N, n = self.num_envs, default_joint_pos.numel()
        root_pos = self.env_origins.clone()
        root_pos[:, 2] += float(self.spec.init_root_height)
        quat = torch.as_tensor(self.spec.init_root_quat, device=self.device, dtype=self.dtype).expand(N, 4)
        rest = torch.zeros(N, 6, device=self.device, dtype=self.dtype)
        still = torch.zeros(N, n, device=self.device, dtype=self.dtype)
        return torch.cat([root_pos, quat, rest, default_joint_pos.expand(N, -1), still], -1)

    def motion_generator(self):
        """The task's generator where the motion library is on the task's device ("cuda" and "cuda:0" alike), so
        that the task's seed decides the reference resets."""
        return self.draws.generator if same_device(self.motion_lib.device, self.device) else None

    def reference_mask(self) -> torch.Tensor:
        """(N,) which envs would start from reference motion if reset now."""
        mode = self.init.mode
        if mode == "Default":
            return torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        if mode in ("Start", "Random"):
            return torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        return self.draws.rand(self.num_envs) < self.init.hybrid_prob

    def states(self, starts: torch.Tensor, compact: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Packed reset states (N, S): the default pose, or where `starts` a sampled reference state; and the
        reference AMP windows (N, K, F) (None in Default mode)."""
        self.sampled = None
        if self.init.mode == "Default":
            return self.default, None
        rows = starts.nonzero().flatten() if compact else None
        count = self.num_envs if rows is None else rows.numel()
        if count == 0:  # compact resets only: never on an accelerator
            return self.default, None
        clip_ids, times = self._sample_motion(count)
        now, window = self.reference(clip_ids, times)
        if rows is not None:
            now = now.new_zeros(self.num_envs, now.shape[-1]).index_put_((rows,), now)
            window = window.new_zeros(self.num_envs, *window.shape[1:]).index_put_((rows,), window)
            on_lib = rows.to(clip_ids.device)
            clip_ids = clip_ids.new_zeros(self.num_envs).index_put_((on_lib,), clip_ids)
            times = times.new_zeros(self.num_envs).index_put_((on_lib,), times)
        self.sampled = (clip_ids, times)
        return self.blend(starts, now), window

    def _sample_motion(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`count` clip ids (by weight) and start times (0 in Start mode, else uniform in the clip)."""
        lib, generator = self.motion_lib, self.motion_generator()
        clip_ids = lib.sample_clips(count, generator=generator)
        if self.init.mode == "Start":
            return clip_ids, torch.zeros(count, dtype=torch.float64, device=lib.device)
        return clip_ids, lib.sample_times(clip_ids, generator=generator)

    def reference(self, clip_ids, times) -> tuple[torch.Tensor, torch.Tensor]:
        """Packed states (n, S) of the clips at `times` (root pose as in the clip) and the AMP windows (n, K, F)
        ending there, filled from the clip at t - k dt."""
        lib = self.motion_lib
        packed = lib.get_window_packed(clip_ids, times, self.amp_layout.num_steps, self.dt).to(self.device, self.dtype)
        window = frame_from_motion(self.amp_layout, lib.unpack(packed))
        return packed[:, 0, :sum(self.sizes)], window

    def blend(self, starts: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """The default state, or where `starts` the `reference` state with its root moved over the env origin
        (the clip's height plus `init.root_height_offset` kept)."""
        state = torch.where(starts.unsqueeze(-1), reference, self.default)
        height = torch.where(starts, reference[:, 2] + self.init.root_height_offset, float(self.spec.init_root_height))
        state[:, :3] = self.env_origins
        state[:, 2].add_(height)
        return state
