"""Env-steps/s of a task (DucklingCommand by default, `--task G1Command` for the G1; one env-step = one policy
step of one env) in three modes, per env count.

    physics  engine.step(targets): the engine built as awd/tasks/factory.py builds it (the task's tracked
             bodies), from the standing pose, cycling 16 fixed random PD target sets (default pose +
             U(-0.3, 0.3) rad); no resets (fallen robots keep simulating)
    task     env.step(actions) of the full env from awd.tasks.build_env with the default env config
             (observations, rewards, AMP features, terminations and resets), cycling 16 random action sets;
             on CUDA replayed as CUDA graphs where the env allows it, as training runs it
    train    the real AMP agent through rl_games' Runner (as awd/run.py drives it) with the default train
             config at that env count: frames/s over the epochs after the first, and the rollout (play) vs
             PPO + discriminator update (update) seconds per epoch as the agent measures them

`warm-up s` is everything before the timed region: building (models, motion library, agent, the 200k-row
demo-buffer prefill), resets and the warm-up steps (physics, task) or the first epoch (train), where kernels
compile and graphs are captured (Warp compiles its kernels once per process, or loads them from its cache: the
first row pays for that). Timed regions are bracketed by torch.cuda.synchronize() on CUDA devices. GPU memory
per row: torch's peak allocation (reset per row) and the device's used memory (total - free from
torch.cuda.mem_get_info at the end of the row: it includes the CUDA context, Warp's allocations, memory pools
kept from earlier rows and other processes). Each row frees its engine/env/agent before the next. `--profile`
runs torch.profiler over a few task steps and one extra (untimed) training epoch per env count and prints the
top ops by self CUDA and CPU time (`--profile_dir`: chrome traces too). Dotted overrides
(`train.params.config.mini_epochs=4`, `env.amp.num_steps=5`) apply to the configs, as in awd/run.py.

    python benchmarks/throughput.py [--task DucklingCommand|G1Command|...] [--num_envs 1024 4096 8192 16384]
        [--engine mujoco|mujoco_warp]
        [--device cuda:0] [--rl_device cuda:0] [--modes physics,task,train] [--steps 200] [--warmup 10]
        [--epochs 3] [--json rows.json] [--profile [--profile_dir traces/]] [overrides ...]

Measured on the 2-core CPU machine, as a smoke test (`--engine mujoco --num_envs 16 64 --steps 20 --epochs 2`:
CPU MuJoCo, policy on the CPU, torch 2.13 CPU, mujoco 4.0.0, load average about 3 from other jobs):

| envs | mode | env-steps/s | ms per step | warm-up s | play / update s per epoch |
| ---: | --- | ---: | ---: | ---: | ---: |
| 16 | physics | 9,007 | 1.78 | 0.2 | - |
| 16 | task | 4,930 | 3.25 | 0.4 | - |
| 16 | train | 294 | 54.35 | 48.8 | 0.69 / 1.05 |
| 64 | physics | 13,058 | 4.90 | 0.1 | - |
| 64 | task | 9,229 | 6.93 | 0.2 | - |
| 64 | train | 859 | 74.46 | 3.2 | 0.39 / 1.99 |

On these shared cores training swung up to 30x between runs (train at 16 envs: 19 to 649 env-steps/s over five
runs, its warm-up 3 to 54 s), the update dominating (default networks: critic and discriminator [1024, 512]);
physics and task rates varied about 2x. The GPU tables belong in issue 4's closing note.

Distributed mode: under torchrun (`torchrun --nproc_per_node N benchmarks/throughput.py --modes train ...`) every
rank trains data-parallel (awd.learning.distributed) with `--num_envs` envs on its own device; rank 0 prints the
rows, whose env count and env-steps/s are global. `--nproc_per_node 1` against the plain command measures what
the distributed path costs on one GPU.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import torch

if __package__ in (None, ""):  # `python benchmarks/throughput.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from awd.config import load_run_config  # noqa: E402
from awd.engine import ENGINES  # noqa: E402
from awd.errors import exit_on_error  # noqa: E402
from awd.learning import distributed  # noqa: E402
from awd.learning.amp_agent import AMPAgent  # noqa: E402
from awd.learning.register import make_runner, register_env  # noqa: E402
from awd.utils.cuda_graphs import SegmentedGraph  # noqa: E402
from awd.utils.io import write_json_atomic  # noqa: E402

TASK = "DucklingCommand"  # the default task
MODES = ("physics", "task", "train")
ENV_NAME = "awd_throughput"
BANK = 16            # fixed random target / action sets cycled through the timed steps
PROFILE_STEPS = 10   # task steps under the profiler
PROFILE_ROWS = 25    # ops listed per profile table


@dataclass(frozen=True)
class Setup:
    """What every row shares: engine, devices, the resolved run config ({"env", "train", "sources"}), seed."""

    engine: str
    sim_device: str
    rl_device: str
    config: dict
    seed: int = 1
    task: str = TASK


@dataclass
class Row:
    """One table row (and one JSON record)."""

    num_envs: int
    mode: str
    env_steps_per_s: float
    ms_per_step: float           # wall-clock per policy step of all envs (train: epoch time / horizon)
    warmup_s: float
    timed_steps: int             # policy steps per env inside the timed region
    timed_s: float
    torch_peak_mib: float | None = None
    device_used_mib: float | None = None
    play_s: float | None = None      # train: mean rollout seconds per timed epoch
    update_s: float | None = None    # train: mean update seconds per timed epoch


@dataclass
class Profile:
    """--profile: where chrome traces go (None: tables only)."""

    trace_dir: Path | None = None


# ---------------------------------------------------------------------------------------------- devices


def cuda_devices(setup: Setup) -> list[torch.device]:
    return [d for d in {torch.device(setup.sim_device), torch.device(setup.rl_device)} if d.type == "cuda"]


def now(devices: list[torch.device]) -> float:
    """perf_counter after the queued work of `devices` has finished."""
    for device in devices:
        torch.cuda.synchronize(device)
    return time.perf_counter()


def free_memory(devices: list[torch.device]) -> None:
    """Collect what the last row left, return torch's cached blocks and restart the peak statistics."""
    gc.collect()
    if devices:
        torch.cuda.empty_cache()
    for device in devices:
        torch.empty(0, device=device)   # the allocator must exist before its statistics are reset
        torch.cuda.reset_peak_memory_stats(device)


def fill_memory(row: Row, devices: list[torch.device]) -> Row:
    if devices:
        row.torch_peak_mib = sum(torch.cuda.max_memory_allocated(d) for d in devices) / 2**20
        used = [torch.cuda.mem_get_info(d) for d in devices]
        row.device_used_mib = sum(total - free for free, total in used) / 2**20
    return row


def close_engine(engine) -> None:
    close = getattr(engine, "close", None)
    if close is not None:
        close()


# ---------------------------------------------------------------------------------------------- builders


def make_env(task: str, env: dict, source: str, num_envs: int, engine: str, sim_device: str, seed=None):
    """The env the task and train modes step (same arguments as awd/run.py's env creator)."""
    from awd.engine import make_engine
    from awd.tasks import build_env

    return build_env(env, num_envs, device=sim_device, task=task, source=source, seed=seed,
                     engine_factory=partial(make_engine, engine))


def make_physics(setup: Setup, num_envs: int):
    """The engine alone, built as build_env builds it (same spec, the task's tracked bodies)."""
    from awd.engine import make_engine
    from awd.robot import load_robot_spec
    from awd.engine import default_tracked_bodies as tracked_bodies
    from awd.tasks import env_config_from_mapping

    cfg = env_config_from_mapping(setup.config["env"], setup.config["sources"]["env"])
    spec = load_robot_spec(cfg.robot)
    return make_engine(setup.engine, spec, num_envs, setup.sim_device, tracked_bodies=tracked_bodies(spec))


def reset_standing(engine) -> None:
    spec, n, device = engine.spec, engine.num_envs, engine.device
    zeros = torch.zeros(n, 3, device=device)
    engine.reset(torch.arange(n, device=device),
                 torch.tensor([0.0, 0.0, spec.init_root_height], device=device).expand(n, 3),
                 torch.tensor(spec.init_root_quat, device=device, dtype=torch.float32).expand(n, 4), zeros, zeros,
                 torch.tensor(spec.default_joint_pos, device=device, dtype=torch.float32).expand(n, -1),
                 torch.zeros(n, spec.num_joints, device=device))


def uniform_bank(shape: tuple[int, ...], device, seed: int) -> torch.Tensor:
    """BANK x shape of U(-1, 1), made once on `device`."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return (torch.rand(BANK, *shape, generator=generator) * 2 - 1).to(device)


# ---------------------------------------------------------------------------------------------- modes


def timed_steps(step, bank: torch.Tensor, count: int, devices: list[torch.device]) -> float:
    start = now(devices)
    for k in range(count):
        step(bank[k % BANK])
    return now(devices) - start


def step_row(num_envs: int, mode: str, warmup_s: float, steps: int, seconds: float) -> Row:
    return Row(num_envs, mode, num_envs * steps / seconds, 1000 * seconds / steps, warmup_s, steps, seconds)


def bench_physics(setup: Setup, num_envs: int, steps: int, warmup: int) -> Row:
    devices = cuda_devices(setup)
    start = now(devices)
    engine = make_physics(setup, num_envs)
    spec = engine.spec
    default = torch.tensor(spec.default_joint_pos, dtype=torch.float32, device=engine.device)
    targets = default + 0.3 * uniform_bank((num_envs, spec.num_joints), engine.device, setup.seed)
    reset_standing(engine)
    timed_steps(engine.step, targets, warmup, devices)
    warmup_s = now(devices) - start
    seconds = timed_steps(engine.step, targets, steps, devices)
    row = fill_memory(step_row(num_envs, "physics", warmup_s, steps, seconds), devices)
    close_engine(engine)
    return row


def bench_task(setup: Setup, num_envs: int, steps: int, warmup: int, profile: Profile | None = None) -> Row:
    devices = cuda_devices(setup)
    config = setup.config
    start = now(devices)
    env = make_env(setup.task, config["env"], config["sources"]["env"], num_envs, setup.engine, setup.sim_device,
                   seed=setup.seed)
    actions = uniform_bank((num_envs, env.num_actions), env.device, setup.seed)
    env.reset()
    step = SegmentedGraph(env.step, env.graph_holders) if devices and env.step_capturable else env.step
    timed_steps(step, actions, warmup, devices)
    warmup_s = now(devices) - start
    seconds = timed_steps(step, actions, steps, devices)
    row = fill_memory(step_row(num_envs, "task", warmup_s, steps, seconds), devices)
    if profile is not None:
        with profiler(devices) as prof:
            timed_steps(env.step, actions, PROFILE_STEPS, devices)
        report_profile(prof, f"task, {num_envs} envs, {PROFILE_STEPS} steps", devices, profile)
    close_engine(env.engine)
    return row


class EpochTime(NamedTuple):
    seconds: float     # synchronised wall-clock of train_epoch
    play_s: float      # the agent's own rollout and update times
    update_s: float
    end: float         # perf_counter at the end of the epoch


@dataclass
class EpochLog:
    """Filled by TimedAMPAgent: the timed epochs and the profiler of the one profiled epoch (not timed).
    `devices`: the CUDA devices to synchronise around epochs."""

    devices: list[torch.device]
    profile_epoch: int | None = None
    epochs: list[EpochTime] = field(default_factory=list)
    profile: object = None


class TimedAMPAgent(AMPAgent):
    """The AMP agent with every epoch timed between device synchronisations (one epoch optionally profiled)."""

    def __init__(self, epoch_log: EpochLog, base_name: str, params: dict):
        super().__init__(base_name, params)
        self.epoch_log = epoch_log

    def train_epoch(self) -> dict:
        devices = self.epoch_log.devices
        if self.epoch_num == self.epoch_log.profile_epoch:
            with profiler(devices) as prof:
                stats = super().train_epoch()
                now(devices)
            self.epoch_log.profile = prof
            return stats
        start = now(devices)
        stats = super().train_epoch()
        end = now(devices)
        self.epoch_log.epochs.append(EpochTime(end - start, stats["performance/play_time"],
                                               stats["performance/update_time"], end))
        return stats


def train_params(setup: Setup, num_envs: int, max_epochs: int, train_dir: str) -> dict:
    """The rl_games params of a benchmark run: the train config filled in as awd/run.py fills it."""
    params = setup.config["train"]["params"] | {"seed": setup.seed}
    run = dict(params["config"])
    run.update({"name": setup.task, "env_name": ENV_NAME, "num_actors": num_envs, "device": setup.rl_device,
                "device_name": setup.rl_device, "max_epochs": max_epochs, "save_frequency": 0,
                "save_latest_frequency": 0, "save_latest_interval_s": 0, "train_dir": train_dir,
                "full_experiment_name": "throughput",
                "env_config": {"task": setup.task, "env": setup.config["env"], "source": setup.config["sources"]["env"],
                               "num_envs": num_envs, "engine": setup.engine, "sim_device": setup.sim_device}})
    return params | {"config": run}


def bench_train(setup: Setup, num_envs: int, epochs: int, profile: Profile | None = None) -> Row:
    devices = cuda_devices(setup)
    profiled = int(profile is not None)
    epoch_log = EpochLog(devices, profile_epoch=epochs + 2 if profiled else None)
    register_env(ENV_NAME, make_env)
    runner = make_runner()
    runner.algo_factory.register_builder("amp", lambda **kwargs: TimedAMPAgent(epoch_log, **kwargs))
    with tempfile.TemporaryDirectory(prefix="awd_throughput_") as train_dir:
        start = now(devices)
        runner.load({"params": train_params(setup, num_envs, 1 + epochs + profiled, train_dir)})
        runner.run({"train": True, "play": False, "checkpoint": None})
    horizon = int(setup.config["train"]["params"]["config"]["horizon_length"])
    first, timed = epoch_log.epochs[0], epoch_log.epochs[1:]
    seconds = sum(epoch.seconds for epoch in timed)
    world = distributed.ranks().world_size  # under torchrun: every rank's envs, as the agent counts frames
    row = step_row(num_envs * world, "train", first.end - start, horizon * len(timed), seconds)
    row.play_s = sum(epoch.play_s for epoch in timed) / len(timed)
    row.update_s = sum(epoch.update_s for epoch in timed) / len(timed)
    if epoch_log.profile is not None:
        report_profile(epoch_log.profile, f"train, {num_envs} envs, one epoch", devices, profile)
    return fill_memory(row, devices)


# ---------------------------------------------------------------------------------------------- profiling


def profiler(devices: list[torch.device]) -> torch.profiler.profile:
    activities = [torch.profiler.ProfilerActivity.CPU]
    if devices:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    return torch.profiler.profile(activities=activities)


def report_profile(prof, title: str, devices: list[torch.device], profile: Profile) -> None:
    averages = prof.key_averages()
    for key, label in ([("self_device_time_total", "self CUDA time")] if devices else []) + \
            [("self_cpu_time_total", "self CPU time")]:
        print(f"\n### profile: {title}: top {PROFILE_ROWS} ops by {label}\n", flush=True)
        print(averages.table(sort_by=key, row_limit=PROFILE_ROWS), flush=True)
    if profile.trace_dir is not None:
        path = profile.trace_dir / (title.replace(", ", "_").replace(" ", "-") + ".json")
        profile.trace_dir.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(path))
        print(f"chrome trace: {path}", flush=True)


# ---------------------------------------------------------------------------------------------- report


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for package in ("torch", "mujoco", "mujoco-warp", "warp-lang", "rl-games"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "-"
    return found


def machine(setup: Setup) -> str:
    devices = cuda_devices(setup)
    gpus = ", ".join(torch.cuda.get_device_name(d) for d in devices) or "none used"
    return f"GPU: {gpus}; CPU cores: {os.cpu_count()}; engine {setup.engine} on {setup.sim_device}, " \
           f"policy on {setup.rl_device}"


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    lines = ["| envs | mode | env-steps/s | ms per step | warm-up s | play / update s per epoch | torch peak MiB "
             "| device used MiB |", "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        split = "-" if row.play_s is None else f"{row.play_s:.2f} / {row.update_s:.2f}"
        lines.append(f"| {row.num_envs} | {row.mode} | {_number(row.env_steps_per_s)} | {row.ms_per_step:.2f} "
                     f"| {row.warmup_s:.1f} | {split} | {_number(row.torch_peak_mib)} "
                     f"| {_number(row.device_used_mib)} |")
    return "\n".join(lines)


def report(setup: Setup, rows: list[Row], command: str) -> dict:
    return {"command": command, "task": setup.task, "machine": machine(setup), "versions": versions(),
            "rows": [asdict(row) for row in rows]}


# ---------------------------------------------------------------------------------------------- CLI


def run_rows(setup: Setup, num_envs_list: list[int], modes: list[str], steps: int, warmup: int, epochs: int,
             profile: Profile | None = None, on_row=None) -> list[Row]:
    """Every (env count, mode) row, memory freed between rows; `on_row(rows)` after each."""
    rows = []
    devices = cuda_devices(setup)
    for num_envs in num_envs_list:
        for mode in modes:
            free_memory(devices)
            if mode == "physics":
                row = bench_physics(setup, num_envs, steps, warmup)
            elif mode == "task":
                row = bench_task(setup, num_envs, steps, warmup, profile)
            else:
                row = bench_train(setup, num_envs, epochs, profile)
            rows.append(row)
            print(f"[throughput] {num_envs} envs {mode}: {row.env_steps_per_s:,.0f} env-steps/s "
                  f"(warm-up {row.warmup_s:.1f} s)", flush=True)
            if on_row is not None:
                on_row(rows)
    free_memory(devices)
    return rows


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(MODES)}; found {text!r}")
    return [m for m in MODES if m in modes]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text}")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=TASK, help=f"task with default configs (default {TASK})")
    parser.add_argument("--num_envs", type=positive, nargs="+", default=[1024, 4096, 8192, 16384])
    parser.add_argument("--engine", choices=list(ENGINES), default="mujoco_warp" if cuda else "mujoco")
    parser.add_argument("--device", help="physics device (default: cuda:0 for mujoco_warp, cpu for mujoco)")
    parser.add_argument("--rl_device", help="policy device (default: cuda:0 if available, else cpu)")
    parser.add_argument("--modes", type=parse_modes, default=list(MODES), help="comma list of physics,task,train")
    parser.add_argument("--steps", type=positive, default=200, help="timed policy steps (physics, task)")
    parser.add_argument("--warmup", type=positive, default=10, help="untimed policy steps first (physics, task)")
    parser.add_argument("--epochs", type=positive, default=3, help="timed training epochs, after one warm-up epoch")
    parser.add_argument("--seed", type=positive, default=1)
    parser.add_argument("--json", type=Path, help="also write the rows here (rewritten after each row)")
    parser.add_argument("--profile", action="store_true", help="profile task steps and a training epoch")
    parser.add_argument("--profile_dir", type=Path, help="with --profile: write chrome traces here")
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. train.params.config.mini_epochs=4")
    args = parser.parse_args(argv)
    gpu = distributed.local_gpu()
    args.device = args.device or (gpu if args.engine == "mujoco_warp" else "cpu")
    args.rl_device = args.rl_device or (gpu if cuda else "cpu")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    command = shlex.join(["python", *sys.argv] if argv is None else ["throughput.py", *argv])
    with exit_on_error():
        distributed.mute_other_ranks(distributed.init(args.rl_device))
        config = load_run_config(args.task, overrides=args.overrides)
        setup = Setup(args.engine, args.device, args.rl_device, config, args.seed, args.task)
        profile = Profile(args.profile_dir) if args.profile else None

        def save(rows):
            if args.json:
                write_json_atomic(args.json, report(setup, rows, command), indent=2)

        rows = run_rows(setup, args.num_envs, args.modes, args.steps, args.warmup, args.epochs, profile, save)
        print(f"\n{machine(setup)}")
        print("versions: " + ", ".join(f"{name} {version}" for name, version in versions().items()))
        print(f"command: {command}\n")
        print(table(rows))
        distributed.shutdown()


if __name__ == "__main__":
    main()
