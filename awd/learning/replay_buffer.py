"""Fixed-capacity ring buffer of tensor rows: the AMP agent replay and the demo buffer.

Semantics (tested in tests/test_learning_components.py):

* Rows are stored in arrival order at `head`, wrapping around; once `capacity` rows are held, each new row
  overwrites the oldest one.
* Admission: a row that arrives while the buffer still has free slots is always kept. A row that arrives
  when the buffer is full is kept with probability `keep_prob`, independently per row (the AMP replay uses
  0.01, so the buffer keeps a slowly refreshed history of old policies; `keep_prob=1` is a plain ring).
  A batch that crosses the "full" boundary is split: the rows that fill the free slots are kept, the rest
  go through the `keep_prob` draw.
* `sample(n)` draws rows uniformly from the filled part: without replacement when `n <= len(buffer)`, with
  replacement otherwise. Sampling an empty buffer raises. Samples walk through one shuffled order of the filled
  slots (a pass): successive samples share no slot until fewer than n are left or rows are stored (the agent
  stores once an epoch, so a resumed run draws what a straight one does), then a new pass starts. One shuffle
  serves len / n samples: with a shuffle per sample (two per minibatch), randperm took 27 ms of GPU time in one
  G1 epoch at 8192 envs on an H200, 4 % of the epoch.
* `state_dict()` holds only tensors and ints (filled rows, head, count), so it survives
  `torch.load(..., weights_only=True)`; `load_state_dict` restores the buffer exactly.
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Ring buffer of rows of one shape; storage is allocated on the first `store` (or load)."""

    def __init__(self, capacity: int, keep_prob: float = 1.0, device: str | torch.device = "cpu"):
        if int(capacity) <= 0:
            raise ValueError(f"replay buffer capacity must be positive, got {capacity}")
        if not 0.0 <= float(keep_prob) <= 1.0:
            raise ValueError(f"replay buffer keep_prob must lie in [0, 1], got {keep_prob}")
        self.capacity = int(capacity)
        self.keep_prob = float(keep_prob)
        self.device = torch.device(device)
        self.data: torch.Tensor | None = None
        self.head = 0
        self.count = 0
        self.order: torch.Tensor | None = None
        self.cursor = 0

    def __len__(self) -> int:
        return self.count

    @property
    def is_full(self) -> bool:
        return self.count >= self.capacity

    def _allocate(self, row_shape: tuple[int, ...], dtype: torch.dtype) -> None:
        self.data = torch.zeros((self.capacity, *row_shape), dtype=dtype, device=self.device)

    def _admitted_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows that fill free slots are kept; rows that arrive when full pass a keep_prob draw each."""
        free = self.capacity - self.count
        if free >= rows.shape[0] or self.keep_prob >= 1.0:
            return rows
        late = rows[free:]
        keep = torch.rand(late.shape[0], device=late.device) < self.keep_prob
        return torch.cat([rows[:free], late[keep]], dim=0)

    def store(self, rows: torch.Tensor) -> int:
        """Add a batch of rows (first dim = batch); returns how many rows were written."""
        rows = rows.detach().to(self.device)
        if self.data is None:
            self._allocate(tuple(rows.shape[1:]), rows.dtype)
        if tuple(rows.shape[1:]) != tuple(self.data.shape[1:]):
            raise ValueError(f"replay buffer rows have shape {tuple(self.data.shape[1:])}, got {tuple(rows.shape[1:])}")
        rows = self._admitted_rows(rows)[-self.capacity:]
        n = rows.shape[0]
        index = (self.head + torch.arange(n, device=self.device)) % self.capacity
        self.data[index] = rows.to(self.data.dtype)
        self.head = (self.head + n) % self.capacity
        self.count = min(self.count + n, self.capacity)
        self.order = None
        return n

    def sample(self, n: int) -> torch.Tensor:
        """n rows drawn uniformly (without replacement when n <= len(self), with replacement otherwise)."""
        if self.count == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        if n > self.count:
            return self.data[torch.randint(0, self.count, (n,), device=self.device)]
        if self.order is None or self.cursor + n > self.count:
            self.order, self.cursor = torch.randperm(self.count, device=self.device), 0
        index = self.order[self.cursor:self.cursor + n]
        self.cursor += n
        return self.data[index]

    def state_dict(self) -> dict:
        """Tensors and ints only: the filled rows (in storage order), head and count."""
        data = self.data[: self.count].clone() if self.data is not None else torch.zeros(0)
        return {"capacity": self.capacity, "keep_prob": self.keep_prob, "head": self.head,
                "count": self.count, "data": data}

    def load_state_dict(self, state: dict) -> None:
        """Restore exactly what `state_dict` saved (the capacity of this buffer must hold the rows)."""
        count = int(state["count"])
        if count > self.capacity:
            raise ValueError(f"saved replay buffer holds {count} rows, more than the capacity {self.capacity}")
        self.keep_prob = float(state.get("keep_prob", self.keep_prob))
        self.data, self.head, self.count, self.order = None, 0, 0, None
        if count == 0:
            return
        data = state["data"]
        self._allocate(tuple(data.shape[1:]), data.dtype)
        self.data[:count] = data.to(self.device)
        self.count = count
        self.head = int(state["head"]) % self.capacity if count == self.capacity else count
