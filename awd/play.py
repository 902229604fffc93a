"""Playback: one robot on CPU MuJoCo driven by a checkpoint's deterministic actor (the one awd.export writes),
or clips played kinematically (DucklingViewMotion, no checkpoint), shown three ways:

* the MuJoCo viewer (`mujoco.viewer.launch_passive`) when a display exists, in real time, with the command and
  the measured velocity in its overlay and keyboard commands (`KeyboardCommand`);
* a video (`--video out.mp4`, or `.gif`), rendered offscreen (`mujoco.Renderer`, MUJOCO_GL=egl unless set) with
  the same text drawn into the frames, written atomically (mp4 through imageio's ffmpeg, GIF through Pillow);
  `--beside_clip CLIP` renders the clip, played kinematically, to the right of the policy, and commands the
  policy at the clip's mean velocity unless `--command` is given;
* `--headless` alone: a status line per second.

Commands: fixed with `--command vx vy wz`; else from the keyboard in the viewer (starting at zero), else sampled
by the task as in training. Measured velocity: the task's `tracking_velocities()` (the window its tracking
rewards see), in the yaw frame.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from awd.errors import AwdError

# GLFW key codes (named after the US layout, by key position): the viewer's key_callback receives these.
KEY_UP, KEY_DOWN, KEY_LEFT, KEY_RIGHT = 265, 264, 263, 262
# (command index, direction) per key: arrows and W/S/A/D/Q/E; by position an AZERTY keyboard's z/s/q/d/a/e
# are W/S/A/D/Q/E, so the old tool's z: forward, s: back, q: left, d: right, a/e: turn left/right hold too.
KEY_COMMANDS = {
    KEY_UP: (0, 1), KEY_DOWN: (0, -1), KEY_LEFT: (2, 1), KEY_RIGHT: (2, -1),
    ord("W"): (0, 1), ord("Z"): (0, 1), ord("S"): (0, -1),
    ord("A"): (1, 1), ord("D"): (1, -1), ord("Q"): (2, 1), ord("E"): (2, -1),
}
KEYS_STOP = (ord("X"), ord("0"))
KEY_STEPS = 4  # presses from zero to the end of a command range
VIDEO_FPS = 25
GL_BACKENDS = ("egl", "osmesa")


@dataclass(frozen=True)
class PlaySettings:
    video: str | None = None  # render into this video file instead of a viewer
    headless: bool = False  # no viewer (status lines, or the video)
    command: tuple[float, float, float] | None = None  # fixed (vx, vy, wz)
    duration_s: float = 10.0  # headless and video length; the viewer runs until closed
    width: int = 640  # of each view
    height: int = 480
    beside_clip: str | None = None  # video only: this clip, played kinematically, to the right of the policy


class KeyboardCommand:
    """A (vx, vy, wz) command moved by key presses in steps of 1/KEY_STEPS of its range, clipped to the range;
    X or 0 stops."""

    def __init__(self, ranges: list[tuple[float, float]]):
        self.low = np.array([low for low, _ in ranges])
        self.high = np.array([high for _, high in ranges])
        self.value = np.zeros(3)
        self.changed = True

    def on_key(self, key: int) -> None:
        if key in KEYS_STOP:
            self.value[:] = 0.0
        elif key in KEY_COMMANDS:
            index, direction = KEY_COMMANDS[key]
            end = self.high[index] if direction > 0 else self.low[index]
            self.value[index] = np.clip(self.value[index] + abs(end) / KEY_STEPS * direction,
                                        self.low[index], self.high[index])
        else:
            return
        self.changed = True


def prepare_offscreen_gl() -> None:
    """Pick an offscreen OpenGL backend before mujoco is imported (EGL unless MUJOCO_GL says otherwise)."""
    os.environ.setdefault("MUJOCO_GL", "egl")


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# ------------------------------------------------------------------------------------------------ envs


def checkpoint_player(checkpoint: str | Path, cfg_env: str | None, overrides: list[str]):
    """(env, actor) of a checkpoint: its env (or `cfg_env`'s, with dotted `env.` overrides) with one robot on CPU
    MuJoCo from the default pose, refused if its layout differs from the checkpoint's, and the deployed actor."""
    from awd.loader import load_policy, resolve_env_mapping

    _, env, model = load_policy(checkpoint, resolve_env_mapping(checkpoint, cfg_env, overrides))
    return env, model.export_actor()


def export_player(folder: str | Path, overrides: list[str]):
    """(env, actor) of an export folder: the env config its policy.json holds (with dotted `env.` overrides), one
    robot on CPU MuJoCo from the default pose, and policy.onnx run by ONNX Runtime."""
    from awd.config import apply_override
    from awd.loader import build_contract_env, load_export

    metadata, act = load_export(folder)
    env_config = metadata["env_config"]
    config = {"env": dict(env_config["env"])}
    for override in overrides:
        apply_override(config, override)
    env = build_contract_env(env_config["task"], config["env"], env_config.get("source"))
    if env.num_obs != metadata["io"]["obs_size"] or env.num_actions != metadata["io"]["action_size"]:
        raise AwdError(folder, "io", f"the env's layout ({env.num_obs} obs, {env.num_actions} actions) differs from "
                       f"the policy's ({metadata['io']['obs_size']}, {metadata['io']['action_size']})")
    return env, act


def clip_player(task: str, cfg_env: str | None, motion_file: str | None, overrides: list[str]):
    """(env, None) of a task played without a policy (DucklingViewMotion): one robot on CPU MuJoCo."""
    from awd.config import apply_override, load_run_config
    from awd.engine import make_engine
    from awd.tasks import build_env

    config = load_run_config(task, cfg_env)
    if motion_file:
        config["env"]["motion_file"] = str(Path(motion_file).resolve())
    for override in overrides:
        apply_override(config, override)
    return build_env(config["env"], 1, task=task, source=config["sources"]["env"],
                     engine_factory=lambda *a, **k: make_engine("mujoco", *a, num_threads=1, **k)), None


# ------------------------------------------------------------------------------------------------ the loop


def status_text(env, elapsed_s: float) -> tuple[str, str]:
    """(labels, values) of the overlay: the command (for command tasks) and the measured velocity."""
    lin, ang = env.tracking_velocities()
    measured = (float(lin[0, 0]), float(lin[0, 1]), float(ang[0, 2]))
    labels, values = ["time"], [f"{elapsed_s:6.1f} s"]
    if hasattr(env, "commands") and hasattr(env, "set_commands"):
        labels.append("command")
        values.append(_velocity(env.commands[0].tolist()))
    labels.append("measured")
    values.append(_velocity(measured))
    return "\n".join(labels), "\n".join(values)


def _velocity(values) -> str:
    vx, vy, wz = values
    return f"vx {vx:+.2f} vy {vy:+.2f} m/s  wz {wz:+.2f} rad/s"


class Player:
    """Steps one env with a deterministic actor (or none, for clips)."""

    def __init__(self, env, actor, command: tuple[float, float, float] | None):
        self.env, self.actor = env, actor
        if command is not None:
            if not hasattr(env, "set_commands"):
                raise AwdError(None, "--command", f"task {env.task_name} takes no commands")
            env.set_commands(torch.tensor(command, dtype=torch.float32))
        self.obs = env.reset()
        self.steps = 0

    @property
    def elapsed_s(self) -> float:
        return self.steps * self.env.dt

    def step(self) -> None:
        with torch.no_grad():
            actions = self.actor(self.obs) if self.actor is not None else None
        self.obs = self.env.step(actions)[0]
        self.steps += 1


def play_headless(player: Player, settings: PlaySettings) -> None:
    steps_per_line = max(1, round(1.0 / player.env.dt))
    while player.elapsed_s < settings.duration_s - 1e-9:
        player.step()
        if player.steps % steps_per_line == 0:
            labels, values = status_text(player.env, player.elapsed_s)
            print(" | ".join(f"{k} {v}" for k, v in zip(labels.splitlines(), values.splitlines())), flush=True)


def _tracking_camera(camera, model, data, body: str) -> None:
    """A camera that follows `body` from a distance that frames the whole robot as it stands in `data`: its feet
    and its top within the view, at least 1.2 m (the duck's view)."""
    import mujoco

    camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
    camera.trackbodyid = model.body(body).id
    camera.distance, camera.elevation, camera.azimuth = framing_distance(model, data, body), -15.0, 135.0


def framing_distance(model, data, body: str, margin: float = 1.3, nearest: float = 1.2) -> float:
    """The camera distance at which the robot's extent above and below `body` (floor to the top of its highest
    geom) fills at most 1 / `margin` of half the vertical field of view."""
    import mujoco

    mujoco.mj_kinematics(model, data)
    robot = model.geom_bodyid > 0  # the world's geoms (the floor) do not count
    top = float((data.geom_xpos[robot, 2] + model.geom_rbound[robot]).max()) if robot.any() else 0.0
    centre = float(data.xpos[model.body(body).id, 2])
    extent = max(centre, top - centre)
    return max(nearest, margin * extent / np.tan(np.radians(model.vis.global_.fovy) / 2.0))


def _show_all_geoms(option) -> None:
    """Show every geom group (an MJCF may keep its collision shapes, the only ones some robots have, in 3+)."""
    option.geomgroup[:] = 1


def play_viewer(player: Player, settings: PlaySettings) -> None:
    """Real-time playback in the passive viewer; keyboard commands unless a command is fixed."""
    import mujoco
    import mujoco.viewer

    env = player.env
    keyboard = None
    if settings.command is None and hasattr(env, "set_commands"):
        c = env.cfg.commands
        keyboard = KeyboardCommand([c.lin_vel_x, c.lin_vel_y, c.ang_vel_z])
    model, data = env.engine.env_model(0), env.engine.env_data(0)
    with mujoco.viewer.launch_passive(model, data, key_callback=keyboard.on_key if keyboard else None) as viewer:
        _tracking_camera(viewer.cam, model, data, env.spec.trunk_body)
        _show_all_geoms(viewer.opt)
        while viewer.is_running():
            start = time.perf_counter()
            with viewer.lock():
                if keyboard is not None and keyboard.changed:
                    env.set_commands(torch.tensor(keyboard.value, dtype=torch.float32))
                    keyboard.changed = False
                player.step()
                viewer.set_texts((None, mujoco.mjtGridPos.mjGRID_TOPLEFT, *status_text(env, player.elapsed_s)))
            viewer.sync()
            time.sleep(max(0.0, env.dt - (time.perf_counter() - start)))


def offscreen_renderer(model, settings: PlaySettings):
    """A mujoco.Renderer, or an AwdError that says how to get an offscreen OpenGL context."""
    import mujoco

    try:
        return mujoco.Renderer(model, settings.height, settings.width)
    except Exception as error:  # no EGL/OSMesa library, no GPU driver, a display-less GLFW...
        raise AwdError(None, "--video", f"cannot render offscreen with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} "
                       f"({type(error).__name__}: {error}); expected MUJOCO_GL=egl or osmesa with its library "
                       "installed") from None


def draw_text(frame: np.ndarray, labels: str, values: str) -> np.ndarray:
    """The frame with the overlay text in its top-left corner."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.multiline_text((10, 8), labels, fill=(255, 255, 255))
    draw.multiline_text((80, 8), values, fill=(255, 255, 255))
    return np.asarray(image)


class GifWriter:
    """Frames collected in memory and saved as one looping GIF (Pillow) on close."""

    def __init__(self, path: Path, fps: float):
        self.path, self.duration_ms, self.frames = path, 1000.0 / fps, []

    def __enter__(self):
        return self

    def append_data(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def __exit__(self, kind, *_):
        from PIL import Image

        if kind is None and self.frames:
            images = [Image.fromarray(f).quantize(colors=64) for f in self.frames]
            images[0].save(self.path, format="GIF", save_all=True, append_images=images[1:],
                           duration=round(self.duration_ms), loop=0, optimize=True)


def video_writer(path: Path, fps: float):
    """A writer with append_data(frame) for `path`: GIF by its suffix, else mp4 through imageio's ffmpeg."""
    if path.suffix.lower() == ".gif":
        return GifWriter(path, fps)
    import imageio.v2 as imageio

    return imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, macro_block_size=8)


def _view(env, settings: PlaySettings):
    import mujoco

    model = env.engine.env_model(0)
    renderer = offscreen_renderer(model, settings)
    camera, option = mujoco.MjvCamera(), mujoco.MjvOption()
    _tracking_camera(camera, model, env.engine.env_data(0), env.spec.trunk_body)
    _show_all_geoms(option)
    return renderer, camera, option


def _render(player: Player, view, labels: tuple[str, str]) -> np.ndarray:
    renderer, camera, option = view
    renderer.update_scene(player.env.engine.env_data(0), camera, option)
    return draw_text(renderer.render(), *labels)


def play_video(player: Player, settings: PlaySettings, beside: Player | None = None) -> Path:
    """Render `duration_s` seconds at VIDEO_FPS (or the control rate if lower) into the video file, atomically;
    `beside` (a clip player) stepped in lockstep and drawn to the right."""
    env = player.env
    views = [_view(p.env, settings) for p in (player, beside) if p is not None]
    steps_per_frame = max(1, round(1.0 / (env.dt * VIDEO_FPS)))
    path = Path(settings.video).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.getpid()}{path.suffix}")
    clip_label = ("clip", Path(settings.beside_clip or "").stem)
    try:
        with video_writer(temporary, 1.0 / (env.dt * steps_per_frame)) as writer:
            while player.elapsed_s < settings.duration_s - 1e-9:
                player.step()
                if beside is not None:
                    beside.step()
                if player.steps % steps_per_frame == 0:
                    frames = [_render(player, views[0], status_text(env, player.elapsed_s))]
                    if beside is not None:
                        frames.append(_render(beside, views[1], clip_label))
                    writer.append_data(np.concatenate(frames, axis=1))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
        for renderer, _, _ in views:
            renderer.close()
    return path


def clip_command(env, clip: str | Path) -> tuple[float, float, float]:
    """The clip's mean velocity (yaw frame: vx, vy, wz) as a command for `env`."""
    from awd.style.gait import gait_stats
    from awd.style.recording import clip_gaits

    _, gaits = clip_gaits(env.spec, Path(clip))
    return tuple(float(v) for v in gait_stats(gaits[0]).velocity)


def play(env, actor, settings: PlaySettings) -> None:
    """Play with the viewer, into a video or headless, as the settings and the display say."""
    if settings.beside_clip and not settings.video:
        raise AwdError(None, "--beside_clip", "expected --video as well (the clip is drawn into the video)")
    beside = None
    if settings.beside_clip:
        clip_env, _ = clip_player("DucklingViewMotion", None, settings.beside_clip, [f"env.robot={env.cfg.robot}"])
        beside = Player(clip_env, None, None)
        if settings.command is None:
            settings = replace(settings, command=clip_command(env, settings.beside_clip))
    player = Player(env, actor, settings.command)
    if settings.video:
        print(f"awd: wrote {play_video(player, settings, beside)}", flush=True)
    elif settings.headless:
        play_headless(player, settings)
    elif has_display():
        play_viewer(player, settings)
    else:
        raise AwdError(None, "--test", "no display (DISPLAY/WAYLAND_DISPLAY unset): use --headless --video out.mp4")
