"""Data-parallel training under torchrun (awd.learning.distributed): the merging arithmetic, and real launches with
gloo on the CPU (two nodes on one host through c10d rendezvous, then a resume of that run without torchrun)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from awd.learning import distributed

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ["awd/run.py", "--task", "DucklingCommand", "--headless", "--engine", "mujoco", "--num_envs", "4",
         "--motion_file", str(ROOT / "awd/data/motions/mini_bdx_performed/forward_medium.json"),
         "train.params.config.horizon_length=8", "train.params.config.mini_epochs=1",
         "train.params.network.actor.units=[32, 32]", "train.params.network.critic.units=[32, 32]",
         "train.params.network.disc.units=[32, 32]", "train.params.config.amp_obs_demo_buffer_size=1024",
         "train.params.config.amp_replay_buffer_size=1024"]


class TwoRanks:
    """dist.all_reduce as if a second rank held `other` (the tensors this rank reduces, in call order)."""

    def __init__(self, other: list[torch.Tensor]):
        self.other = list(other)

    def all_reduce(self, tensor, op=None):
        tensor += self.other.pop(0)


def local_sums(batch: torch.Tensor) -> torch.Tensor:
    mean, var, count = batch.mean(0), batch.var(0, unbiased=False), float(len(batch))
    return torch.cat([mean * count, (var + mean * mean) * count, torch.tensor([count], dtype=batch.dtype)])


def test_merged_moments_are_those_of_both_ranks_batches_together(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    mine = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    theirs = 2.0 + 3.0 * torch.randn(11, 3, generator=generator, dtype=torch.float64)
    monkeypatch.setattr(distributed.dist, "all_reduce", TwoRanks([local_sums(theirs)]).all_reduce)
    mean, var, count = distributed.merge_moments(mine.mean(0), mine.var(0, unbiased=False), 5)
    both = torch.cat([mine, theirs])
    assert count.item() == 16
    assert torch.allclose(mean, both.mean(0)) and torch.allclose(var, both.var(0, unbiased=False))


def test_gradients_are_averaged_and_a_missing_gradient_counts_as_zero(monkeypatch):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    model(torch.ones(1, 2)).sum().backward()
    model[1].bias.grad = None
    mine = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
    theirs = [torch.full_like(p, 4.0) for p in model.parameters()]
    flat = torch.cat([t.reshape(-1) for t in theirs])
    monkeypatch.setattr(distributed.dist, "all_reduce", TwoRanks([flat]).all_reduce)
    parallel = distributed.DataParallel(model)
    parallel.active, parallel.ranks = True, distributed.Ranks(0, 0, 2)
    parallel.average_gradients()
    for param, a, b in zip(model.parameters(), mine, theirs):
        assert torch.allclose(param.grad, (a + b) / 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(launch: list[str], args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", *launch, *TRAIN, *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-3000:]
    return output


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without torch.distributed")
def test_two_nodes_train_one_run_and_one_rank_resumes_it(tmp_path, capsys):
    nodes = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d",
             "--rdzv_endpoint", f"127.0.0.1:{free_port()}", "--rdzv_id", "awd-test"]
    launches = [torchrun(nodes, ["--max_iterations", "1", "--seed", "3", "--output_path", str(tmp_path)])
                for _ in range(2)]
    output = "".join(finish(process) for process in launches)
    assert output.count("weights identical on 2 ranks") == 1  # rank 0 alone prints
    assert "8 envs (2 ranks x 4)" in output and "training finished at epoch 1, frame 64" in output  # global frames
    (run,) = tmp_path.iterdir()
    assert (run / "config.yaml").is_file() and len(list((run / "summaries").iterdir())) == 1
    checkpoint = run / "nn" / "DucklingCommand.pth"
    assert sorted(p.name for p in (run / "nn").iterdir()) == ["DucklingCommand.pth", "DucklingCommand_ep000001.pth"]

    from awd.run import main as run_main

    run_main(["--headless", "--resume", "1", "--checkpoint", str(checkpoint), "--max_iterations", "2"])  # one rank
    assert "training finished at epoch 2, frame 96" in capsys.readouterr().out
    assert (tmp_path / f"{run.name}_resume_ep000001" / "nn" / "DucklingCommand_ep000002.pth").is_file()
