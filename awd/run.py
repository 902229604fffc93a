"""The awd command line: train a task (`python awd/run.py --task DucklingCommand`), play a checkpoint
(`--test --checkpoint X`: the MuJoCo viewer, or `--headless --video out.mp4`), play clips
(`--test --task DucklingViewMotion`), export a policy (`--export --checkpoint X`) or resume training
(`--resume 1 --checkpoint X`). Flags follow the old AWD tool; anything else is a dotted override such as
`env.rewards.lin_vel_xy.weight=0.5`."""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import time
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # `python awd/run.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from awd.config import apply_override, load_run_config  # noqa: E402
from awd.engine import ENGINES, engine_entry  # noqa: E402
from awd.errors import AwdError, exit_on_error, is_number  # noqa: E402
from awd.tasks.registry import TASKS  # noqa: E402
from awd.utils.io import write_yaml_atomic  # noqa: E402

DEFAULT_TASK = "DucklingCommand"


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", help=f"one of {sorted(TASKS)} (default: {DEFAULT_TASK}, or a resumed checkpoint's)")
    parser.add_argument("--cfg_env", help="env YAML (default: the task's, under awd/data/cfg/<robot>/)")
    parser.add_argument("--cfg_train", help="rl_games YAML (default: the task's, under awd/data/cfg/<robot>/train/)")
    parser.add_argument("--motion_file", help="a clip, a folder of clips or a dataset YAML")
    parser.add_argument("--num_envs", type=int, default=0, help="parallel robots (default: 64 on CPU, 8192 on GPU)")
    parser.add_argument("--headless", action="store_true", help="no viewer")
    parser.add_argument("--seed", type=int, help="seed for torch, numpy and the envs")
    parser.add_argument("--max_iterations", type=int, default=0, help="training epochs (0: the config's)")
    parser.add_argument("--output_path", default="output", help="runs go to OUTPUT_PATH/<experiment>_<timestamp>/")
    parser.add_argument("--experiment", help="run name prefix (default: the task name)")
    parser.add_argument("--checkpoint",
                        help="a .pth checkpoint to play (--test; an export folder too) or to resume (--resume 1)")
    parser.add_argument("--resume", type=int, default=0, help="1: continue training from --checkpoint")
    parser.add_argument("--test", "--play", action="store_true", help="play the policy of --checkpoint")
    parser.add_argument("--eval", action="store_true",
                        help="with --test: measure survival and tracking (awd.evaluate) instead of playing")
    parser.add_argument("--video", help="with --test: render offscreen into this video file (out.mp4 or out.gif)")
    parser.add_argument("--beside_clip", help="with --test --video: this clip, played kinematically, beside the "
                        "policy, which is commanded at the clip's velocity unless --command is given")
    parser.add_argument("--command", type=float, nargs=3, metavar=("VX", "VY", "WZ"),
                        help="with --test: a fixed command (default: keyboard in the viewer, else sampled)")
    parser.add_argument("--duration", type=float, default=10.0, help="with --test --headless: seconds to play")
    parser.add_argument("--export", action="store_true",
                        help="export --checkpoint for deployment (policy.onnx, policy.pt, policy.json)")
    parser.add_argument("--export_dir", help="with --export: output folder (default: <checkpoint dir>/<stem>_export)")
    parser.add_argument("--raw", action="store_true",
                        help="with --export: also actors without the normaliser and normalizer.npz")
    parser.add_argument("--engine", choices=list(ENGINES),
                        help="physics (default: a GPU engine (mujoco_warp) with a CUDA GPU and its package "
                        "installed, else mujoco)")
    parser.add_argument("--sim_device", help="physics device (default: cuda:0 for a GPU engine, cpu for mujoco)")
    parser.add_argument("--rl_device", help="policy device (default: cuda:0 if available, else cpu)")
    args, rest = parser.parse_known_args(argv)
    unknown = [item for item in rest if "=" not in item or item.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args, rest


def default_engine() -> str:
    """The first GPU engine whose package is installed when there is a CUDA GPU (MuJoCo Warp), else CPU MuJoCo."""
    import torch

    gpu = [name for name, entry in ENGINES.items() if entry.accelerator and entry.installed()]
    return gpu[0] if gpu and torch.cuda.is_available() else "mujoco"


def choose_devices(args) -> tuple[str, str, str]:
    """(engine, sim_device, rl_device): a GPU engine (MuJoCo Warp) simulates on the GPU, CPU MuJoCo on the CPU;
    the policy runs on a GPU when there is one."""
    import torch

    engine = args.engine or default_engine()
    entry = engine_entry(engine)
    if not entry.installed():
        raise AwdError(None, "--engine", f"{entry.package} is not installed: {entry.install_hint} "
                       "(or use --engine mujoco)")
    if entry.accelerator and args.sim_device is None and not torch.cuda.is_available():
        raise AwdError(None, "--engine", f"{engine} found no CUDA GPU here: use --sim_device cpu (its CPU "
                       "backend, slow) or --engine mujoco")
    from awd.learning.distributed import local_gpu

    gpu = local_gpu()
    sim_device = args.sim_device or (gpu if entry.accelerator else "cpu")
    rl_device = args.rl_device or (gpu if torch.cuda.is_available() else "cpu")
    return engine, sim_device, rl_device


def build_run_config(args, overrides: list[str]) -> dict:
    """The resolved config of a new training run: YAML files, flags, then dotted overrides."""
    task = args.task or DEFAULT_TASK
    config = load_run_config(task, args.cfg_env, args.cfg_train)
    if not config["train"]:
        raise AwdError(None, "--task", f"{task} has no training config; it is played with --test")
    config["train"]["params"]["config"]["name"] = task
    return apply_run_flags(args, config, overrides, {})


def resumed_run_config(args, overrides: list[str]) -> dict:
    """The config of the run `args.checkpoint` belongs to, with the flags and overrides given now applied; each
    value that changes is printed."""
    from awd.learning.checkpoint import load_checkpoint
    from awd.loader import checkpoint_env_config

    if args.cfg_env or args.cfg_train:
        raise AwdError(None, "--cfg_env" if args.cfg_env else "--cfg_train", "a resumed run keeps its checkpoint's "
                       "config; change keys with dotted overrides (env.<key>=..., train.<key>=...)")
    state = load_checkpoint(args.checkpoint)
    saved = checkpoint_env_config(args.checkpoint, state)
    if args.task and args.task != saved["task"]:
        raise AwdError(args.checkpoint, "config.env_config.task", f"the checkpoint trained {saved['task']}, "
                       f"not {args.task}")
    if 0 < args.max_iterations <= int(state["epoch"]):
        raise AwdError(None, "--max_iterations", f"expected more than the checkpoint's {state['epoch']} epochs, "
                       f"got {args.max_iterations}")
    params = copy.deepcopy(state["config"])
    config = {"task": saved["task"], "env": saved["env"], "train": {"params": params},
              "sources": {"env": saved.get("source"), "train": None},
              "resumed_from": {"checkpoint": str(Path(args.checkpoint).resolve()), "epoch": int(state["epoch"])}}
    args.engine = args.engine or saved.get("engine")
    before = _leaves(config)
    config = apply_run_flags(args, config, overrides, {args.engine: params["config"]["num_actors"]})
    after = _leaves(config)
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) and not key.startswith("train.params.config.env_config."):
            print(f"awd: resume: {key} {before.get(key)!r} -> {after.get(key)!r}", flush=True)
    return config


def _leaves(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        return {k: v for key, child in node.items() for k, v in _leaves(child, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}


def apply_run_flags(args, config: dict, overrides: list[str], num_envs: dict) -> dict:
    """The flags (devices, clips, seed, iterations, env count, experiment name) and dotted overrides applied."""
    if args.num_envs < 0:
        raise AwdError(None, "--num_envs", f"expected a positive count (0: the engine's default), got {args.num_envs}")
    engine, sim_device, rl_device = choose_devices(args)
    env = config["env"]
    if args.motion_file:
        env["motion_file"] = str(Path(args.motion_file).resolve())
    if args.seed is not None:
        env["seed"] = args.seed
    params = config["train"]["params"]
    run = params["config"]
    if args.max_iterations > 0:
        run["max_epochs"] = args.max_iterations
    if args.seed is not None:
        params["seed"] = args.seed
    run["num_actors"] = args.num_envs or num_envs.get(engine) or engine_entry(engine).default_num_envs
    run["device"] = run["device_name"] = rl_device
    for override in overrides:
        apply_override(config, override)
    threads = params.get("torch_threads", "auto")
    if threads != "auto" and not (is_number(threads) and float(threads).is_integer() and threads >= 0):
        raise AwdError("train config", "params.torch_threads",
                       f"expected 'auto' or an integer >= 0 (0: torch's default), found {threads!r}")
    run["name"] = args.experiment or run["name"]
    run["env_name"] = "awd"
    run["env_config"] = {"task": config["task"], "env": config["env"], "source": config["sources"]["env"],
                         "num_envs": run["num_actors"], "engine": engine, "sim_device": sim_device}
    config["engine"] = engine
    return config


def create_env(task: str, env: dict, source: str, num_envs: int, engine: str, sim_device: str, seed=None):
    """The env creator rl_games calls (with the run's env_config, plus `seed` from the Runner)."""
    from awd.engine import make_engine
    from awd.learning.progress import STARTUP
    from awd.tasks import build_env

    built = build_env(env, num_envs, device=sim_device, task=task, source=source, seed=seed,
                      engine_factory=partial(make_engine, engine))
    STARTUP.mark("engine and task")
    return built


def run_rl_games(params: dict, checkpoint: str | None) -> None:
    """Train (or resume from `checkpoint`) through rl_games' Runner."""
    from rl_games.torch_runner import Runner

    from awd.learning.register import register_env, register_rl_games_components

    register_env("awd", create_env)
    runner = Runner()
    register_rl_games_components(runner)
    runner.load({"params": params})
    runner.run({"train": True, "play": False, "checkpoint": checkpoint})


def run_folder(args, config: dict) -> tuple[Path, str]:
    """(parent, name) of a new run's folder: NAME_<time> under --output_path; a resumed run's successor
    <original>_resume_epNNNNNN beside the original when the checkpoint lies in a run's nn/ folder."""
    resumed = config.get("resumed_from")
    original = Path(resumed["checkpoint"]).parent.parent if resumed else None
    if original is not None and (original / "nn").is_dir() and (original / "config.yaml").is_file():
        return original.parent, f"{original.name}_resume_ep{resumed['epoch']:06d}"
    name = config["train"]["params"]["config"]["name"]
    return Path(args.output_path).resolve(), f"{name}_{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_dir(parent: Path, name: str) -> Path:
    """A new run folder, created exclusively: NAME, else NAME-2, NAME-3... (runs started in the same second)."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        path = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise AwdError(parent, None, f"could not create a run folder named {name} (1000 exist)")


def seed_ranks_apart(config: dict, ranks) -> None:
    """Under torchrun each rank seeds its envs and sampling with the run's seed + its rank (a run without a seed
    takes rank 0's clock)."""
    from awd.learning import distributed

    if not distributed.active():
        return
    params, env = config["train"]["params"], config["env"]
    base = params.get("seed")
    base = distributed.broadcast_object(int(time.time()) if base is None else int(base))
    params["seed"] = base + ranks.rank
    if env.get("seed") is not None:
        env["seed"] = int(env["seed"]) + ranks.rank


def fall_rules(config: dict) -> str:
    from awd.robot import load_robot_spec
    from awd.tasks.config import env_config_from_mapping
    from awd.tasks.terminations import describe

    env = env_config_from_mapping(config["env"], config["sources"]["env"])
    return describe(env.termination, load_robot_spec(env.robot))


def train(args, overrides: list[str]) -> None:
    if args.eval:
        raise AwdError(None, "--eval", "--eval measures a checkpoint: use it with --test --checkpoint X")
    if args.checkpoint and not args.resume:
        raise AwdError(None, "--checkpoint", "training from a checkpoint needs --resume 1 (or use --test to play it)")
    if args.resume and not args.checkpoint:
        raise AwdError(None, "--resume", "expected --checkpoint X to resume from")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise AwdError(args.checkpoint, None, "checkpoint file not found")
    config = resumed_run_config(args, overrides) if args.resume else build_run_config(args, overrides)
    from awd.learning import distributed
    from awd.learning.progress import STARTUP
    from awd.style.coverage import coverage_lines

    uncovered = coverage_lines(config)  # before the run folder: a missing dataset leaves nothing behind

    run = config["train"]["params"]["config"]
    ranks = distributed.init(run["device"])
    run_dir = distributed.broadcast_object(create_run_dir(*run_folder(args, config)) if ranks.is_main else None)
    run["train_dir"], run["full_experiment_name"] = str(run_dir.parent), run_dir.name
    seed_ranks_apart(config, ranks)
    if ranks.is_main:
        write_yaml_atomic(run_dir / "config.yaml", config)
    distributed.mute_other_ranks(ranks)
    envs = (f"{run['num_actors']} envs" if not distributed.active() else
            f"{run['num_actors'] * ranks.world_size} envs ({ranks.world_size} rank{'s' * (ranks.world_size > 1)} x "
            f"{run['num_actors']})")
    print(f"awd: training {config['task']} with {envs} on {config['engine']} "
          f"({run['env_config']['sim_device']} physics, {run['device']} policy) -> {run_dir}", flush=True)
    print(f"awd: {fall_rules(config)}", flush=True)
    for line in uncovered:
        print(f"awd: {line}", flush=True)
    STARTUP.mark("imports and config")
    try:
        run_rl_games(config["train"]["params"], checkpoint=args.checkpoint)
        distributed.shutdown()
    except BaseException as error:
        if ranks.is_main and not any((run_dir / "nn").glob("*.pth")):
            shutil.rmtree(run_dir, ignore_errors=True)  # a run that saved nothing leaves nothing behind
        if type(error).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch here
            raise AwdError(None, "--num_envs", f"out of GPU memory with {run['num_actors']} envs: try a smaller "
                           "--num_envs") from None
        raise


def play(args, overrides: list[str]) -> None:
    """`--test`: one robot on CPU MuJoCo in the viewer, into a video or headless (awd.play)."""
    from awd import play as playback

    if args.eval:
        return evaluate(args, overrides)
    if args.engine not in (None, "mujoco"):
        raise AwdError(None, "--engine", "playback runs one robot on CPU MuJoCo (measure other engines with "
                       "tools/evaluate.py --engine)")
    if args.video:
        playback.prepare_offscreen_gl()
    settings = playback.PlaySettings(video=args.video, headless=args.headless, duration_s=args.duration,
                                     command=tuple(args.command) if args.command else None,
                                     beside_clip=args.beside_clip)
    if args.checkpoint and Path(args.checkpoint).is_dir():
        env, actor = playback.export_player(args.checkpoint, overrides)
    elif args.checkpoint:
        env, actor = playback.checkpoint_player(args.checkpoint, args.cfg_env, overrides)
    elif args.task in TASKS and TASKS[args.task].train_cfg is None:
        env, actor = playback.clip_player(args.task, args.cfg_env, args.motion_file, overrides)
    else:
        raise AwdError(None, "--checkpoint", "expected a checkpoint to play with --test")
    playback.play(env, actor, settings)


def export(args, overrides: list[str]) -> None:
    """`--export`: the checkpoint's policy as an export folder (awd.export)."""
    from awd.export import export_checkpoint, report
    from awd.loader import resolve_env_mapping

    if not args.checkpoint:
        raise AwdError(None, "--checkpoint", "expected a checkpoint to export with --export")
    mapping = resolve_env_mapping(args.checkpoint, args.cfg_env, overrides)
    print(report(export_checkpoint(args.checkpoint, args.export_dir, args.raw, mapping)), flush=True)


def evaluate(args, overrides: list[str]) -> None:
    """`--test --eval`: the evaluator's table for the checkpoint (engine, env count and seed from the flags)."""
    from awd.evaluate import EvalSettings, evaluate_and_report

    if overrides:
        raise AwdError("command line", overrides[0], "--eval takes no dotted overrides (see tools/evaluate.py)")
    evaluate_and_report(args.checkpoint, EvalSettings(
        engine=args.engine or "mujoco", device=args.sim_device, num_envs=args.num_envs or EvalSettings.num_envs,
        seed=args.seed if args.seed is not None else EvalSettings.seed))


def main(argv=None) -> None:
    args, overrides = parse_args(argv)
    with exit_on_error():
        (export if args.export else play if args.test else train)(args, overrides)


if __name__ == "__main__":
    main()
