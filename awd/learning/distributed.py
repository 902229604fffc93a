"""Data-parallel training over torch.distributed, launched by torchrun (NCCL between GPUs, gloo on the CPU).

`torchrun --nproc_per_node N awd/run.py ...` starts N copies of the trainer; each rank runs its own envs on its own
device (`cuda:LOCAL_RANK`, or the CPU), seeded apart. `DataParallel` keeps their learners one learner:
- at the start of training (after a resume's restore) every parameter and buffer of the model is broadcast from
  rank 0;
- after each minibatch's backward pass the gradients of every parameter (actor, critic, discriminator) are
  averaged over the ranks in one flat all-reduce, so every rank takes the same optimiser step;
- the observation, value and AMP normalisers merge each update's batch moments over the ranks before they update
  (`InPlaceRunningMeanStd.moments_reducer`), so their statistics stay identical;
- a stop request (Ctrl-C, SIGTERM) on any rank stops every rank at the same epoch;
- at the end every rank's weights are compared by checksum.
Replay and demo buffers stay per rank. Rank 0 alone creates the run folder (its name is broadcast), prints,
writes TensorBoard scalars and checkpoints. With CUDA graphs the all-reduces (gradients, normaliser moments) are
captured in the update's graph, as NCCL allows. Outside torchrun nothing here runs: `DataParallel` is inactive.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from awd.errors import AwdError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched() -> bool:
    """True in a process started by torchrun (or any launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def ranks() -> Ranks:
    if not launched():
        return Ranks()
    values = {}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        text = os.environ.get(name, "0")
        if not text.isdigit():
            raise AwdError("environment", name, f"expected a non-negative integer (set by torchrun), found {text!r}")
        values[name] = int(text)
    return Ranks(values["RANK"], values["LOCAL_RANK"], max(1, values["WORLD_SIZE"]))


def local_gpu() -> str:
    """This process's default GPU: `cuda:LOCAL_RANK` under torchrun, else `cuda:0`."""
    return f"cuda:{ranks().local_rank}"


def mute_other_ranks(ranks_: Ranks) -> None:
    """Rank 0 alone prints: the others' stdout goes to /dev/null (their errors still reach stderr)."""
    if not ranks_.is_main:
        sys.stdout = open(os.devnull, "w")


def init(device: str) -> Ranks:
    """Join the process group of a torchrun launch (NCCL for a CUDA device, else gloo); outside it, rank 0 of 1."""
    if launched() and not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group("nccl" if cuda else "gloo")
    return ranks()


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def shutdown() -> None:
    """Leave the process group (a process that exits while in one aborts at teardown)."""
    if active():
        dist.destroy_process_group()


def broadcast_object(value):
    """Rank 0's `value` on every rank (unchanged outside torchrun)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def summary_writer_on_main_rank_only(a2c_common_module):
    """rl_games' A2CBase makes a TensorBoard writer unless it runs its own multi-GPU mode: on ranks other than 0
    it makes none here (their `writer` is None, as in rl_games' own multi-GPU mode)."""
    original = a2c_common_module.SummaryWriter
    if ranks().is_main:
        yield
        return
    a2c_common_module.SummaryWriter = lambda *args, **kwargs: None
    try:
        yield
    finally:
        a2c_common_module.SummaryWriter = original


def merge_moments(mean: torch.Tensor, var: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The mean, (population) variance and count of the union of every rank's batch, from each batch's moments."""
    count = torch.full((1,), float(count), dtype=mean.dtype, device=mean.device)  # a fill: capturable in a graph
    sums = torch.cat([mean.reshape(-1) * count, (var + mean * mean).reshape(-1) * count, count])
    dist.all_reduce(sums)
    n, total = mean.numel(), sums[-1]
    merged_mean = sums[:n] / total
    merged_var = (sums[n:2 * n] / total - merged_mean * merged_mean).clamp_min(0.0)
    return merged_mean.view_as(mean), merged_var.view_as(var), total.reshape(())


class DataParallel:
    """The agent's side of data-parallel training (see the module docstring); every method is a no-op outside
    torchrun."""

    def __init__(self, model: torch.nn.Module):
        self.ranks = ranks()
        self.active = active()
        self.model = model
        if self.active:
            for module in model.modules():
                if hasattr(module, "moments_reducer"):
                    module.moments_reducer = merge_moments

    @property
    def world_size(self) -> int:
        return self.ranks.world_size if self.active else 1

    def start(self) -> None:
        """Every parameter and buffer from rank 0 (after a resume's restore, before the first rollout)."""
        if self.active:
            for tensor in self.model.state_dict().values():
                dist.broadcast(tensor, src=0)

    def average_gradients(self) -> None:
        """Each parameter's gradient averaged over the ranks (a missing gradient counts as zeros)."""
        if not self.active:
            return
        params = [p for p in self.model.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for param, grad in zip(params, grads):
            size = grad.numel()
            param.grad = flat[offset:offset + size].view_as(param)
            offset += size

    def any_rank(self, flag: bool) -> bool:
        """True when `flag` is true on any rank (one small all-reduce per call)."""
        if not self.active:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=next(self.model.parameters()).device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def check_identical_weights(self) -> str | None:
        """A log line when every rank holds the same weights; an AwdError naming the ranks that differ."""
        if not self.active:
            return None
        with torch.no_grad():
            vector = torch.cat([t.detach().double().reshape(-1) for t in self.model.state_dict().values()
                                if t.is_floating_point()])
            checksum = torch.stack([vector.sum(), (vector * torch.arange(1, len(vector) + 1, dtype=vector.dtype,
                                                                          device=vector.device)).sum()])
        gathered = [torch.zeros_like(checksum) for _ in range(self.world_size)]
        dist.all_gather(gathered, checksum)
        differing = [rank for rank, other in enumerate(gathered) if not torch.equal(other, gathered[0])]
        if differing:
            raise AwdError("data-parallel training", "weights", f"ranks {differing} differ from rank 0 at the end")
        return f"weights identical on {self.world_size} rank{'s' * (self.world_size > 1)}"
