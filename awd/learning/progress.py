"""What a training run reports: the threads it runs on (at start), each epoch's statistics written to TensorBoard,
its one-line progress log, and after the first epoch where the start-up went (`STARTUP.mark` at each phase's end,
`STARTUP.report` once: on a fresh GPU machine the Warp kernels compile inside one of these phases)."""

from __future__ import annotations

import os

import torch


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), or None where that cannot be read."""
    try:
        stat = open("/proc/self/stat", encoding="ascii").read()
        uptime = float(open("/proc/uptime", encoding="ascii").read().split()[0])
    except OSError:
        return None
    start_ticks = int(stat.rpartition(")")[2].split()[19])  # field 22, starttime, after the (comm) field
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


class StartupClock:
    """Phases of a run's start-up, each marked when it ends (the first began when the process started)."""

    def __init__(self, clock=process_age_s):
        self.clock, self.marks = clock, []

    def mark(self, phase: str) -> None:
        at = self.clock()
        if at is not None:  # nothing where /proc cannot be read
            self.marks.append((phase, at))

    def report(self, log) -> None:
        """Once, after the first epoch: `log` the seconds from the process's start to the first epoch's end."""
        if not self.marks or self.marks[-1][0] == "first epoch":
            return
        self.mark("first epoch")
        phases, previous = [], 0.0
        for phase, at in self.marks:
            phases.append(f"{phase} {at - previous:.1f} s")
            previous = at
        log(f"start-up: the first epoch ended {previous:.1f} s after the process started: {', '.join(phases)}")


STARTUP = StartupClock()


def threads_line(env) -> str:
    """Thread counts of this process: torch's, the physics engine's (CPU MuJoCo) and OpenMP's wait policy."""
    engine = getattr(getattr(env, "env", env), "engine", None)
    physics = getattr(engine, "num_threads", None)
    return (f"threads: torch {torch.get_num_threads()} (inter-op {torch.get_num_interop_threads()}), physics "
            f"{physics if physics is not None else 'on its device'}, OpenMP wait policy "
            f"{os.environ.get('OMP_WAIT_POLICY', 'default').lower()}, {len(os.sched_getaffinity(0))} cores usable")


def add_frame_rates(stats: dict, epoch_frames: int) -> None:
    """`performance/fps` (whole epoch) and `performance/step_fps` (env steps only)."""
    total = stats["performance/play_time"] + stats["performance/update_time"]
    stats["performance/fps"] = epoch_frames / max(total, 1e-9)
    stats["performance/step_fps"] = epoch_frames / max(stats["performance/step_time"], 1e-9)


def write_stats(writer, stats: dict, epoch: int, frame: int) -> None:
    """Every statistic of the epoch at `frame`; flushed so that a killed run keeps them."""
    for key, value in stats.items():
        writer.add_scalar(key, value, frame)
    writer.add_scalar("info/epochs", epoch, frame)
    writer.flush()


def progress_line(stats: dict, epoch: int, max_epochs: int, frame: int, elapsed: float) -> str:
    of = f"/{max_epochs}" if max_epochs != -1 else ""
    episodes = ""
    if "rewards/step" in stats:
        episodes = f"return {stats['rewards/step']:.2f} ep_len {stats['info/episode_length']:.0f} | "
    rate = stats.get("episode/invalid_rate", 0.0)
    invalid = f" invalid {rate:.2f}" if rate > 0 else ""
    skipped = stats.get("info/skipped_updates", 0.0)
    invalid += f" | skipped updates {skipped:.0%}" if skipped > 0 else ""
    clean = ""
    if "info/disc_agent_acc_clean" in stats:
        clean = (f" (clean {stats['info/disc_agent_acc_clean']:.2f} / {stats['info/disc_demo_acc_clean']:.2f}, "
                 f"noise {stats.get('info/disc_input_noise', 0.0):.2f})")
    minutes, seconds = divmod(int(elapsed), 60)
    return (f"epoch {epoch}{of} | frames {frame} | fps {stats['performance/fps']:.0f} | "
            f"task_r {stats['info/task_reward_mean']:.3f} disc_r {stats['info/disc_reward_mean']:.3f} | "
            f"acc agent {stats['info/disc_agent_acc']:.2f} demo {stats['info/disc_demo_acc']:.2f}{clean} | {episodes}"
            f"fall {stats.get('info/fall_rate', 0.0):.2f}{invalid} | "
            f"play {stats['performance/play_time']:.2f}s update {stats['performance/update_time']:.2f}s | "
            f"elapsed {minutes // 60}:{minutes % 60:02d}:{seconds:02d}")
