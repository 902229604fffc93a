#!/usr/bin/env python
"""Plot a motion clip to a PNG: root velocity (heading frame vx, vy and yaw rate), foot heights with the
contact phases shaded, and joint angles. `python tools/plot_clip.py CLIP [-o out.png]` (default: CLIP.png)."""

import argparse
import sys
from pathlib import Path

try:
    import awd  # noqa: F401
except ImportError:  # awd not installed: use the repository this script belongs to
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from awd.errors import exit_on_error  # noqa: E402
from awd.gait.measure import heading_frame_velocity  # noqa: E402
from awd.motion.clip import load_clip  # noqa: E402
from awd.utils.io import atomic_open  # noqa: E402


def _contact_bar(axis, times, contact, row, color, label):
    """Draw the spans where `contact` is 1 as a bar at height `row` (mm), below the foot-height curves."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], contact.astype(int), [0]])))
    dt = times[1] - times[0] if len(times) > 1 else 1.0
    spans = [(times[start], (stop - start) * dt) for start, stop in zip(edges[::2], edges[1::2])]
    axis.broken_barh(spans, (row, 2.0), facecolors=color, alpha=0.6, label=label)


def _joint_style(name: str, index: int, count: int):
    """Left and right joints of the same kind share a colour (left solid, right dashed); others grey-blue."""
    kinds = ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle")
    for kind_index, kind in enumerate(kinds):
        if name.endswith(kind) and name.startswith(("left", "right")):
            return plt.cm.tab10(kind_index), "-" if name.startswith("left") else "--"
    return plt.cm.Greys(0.35 + 0.5 * index / max(count, 1)), ":"


def plot_clip(clip, title: str):
    times = np.arange(clip.num_frames) / clip.fps
    velocity = heading_frame_velocity(clip)
    figure, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True, gridspec_kw={"height_ratios": [1, 1, 1, 1.6]})
    figure.suptitle(title, fontsize=11)

    axis = axes[0]
    axis.plot(times, velocity[:, 0], label="vx (forward)")
    axis.plot(times, velocity[:, 1], label="vy (left)")
    axis.set_ylabel("root velocity\n(m/s, heading frame)")
    twin = axis.twinx()
    twin.plot(times, velocity[:, 2], color="tab:red", alpha=0.7, label="ωz (yaw rate)")
    twin.set_ylabel("ωz (rad/s)", color="tab:red")
    span = max(0.5, 1.1 * float(np.max(np.abs(velocity[:, 2]))))
    twin.set_ylim(-span, span)
    lines = axis.get_legend_handles_labels()
    lines_twin = twin.get_legend_handles_labels()
    axis.legend(lines[0] + lines_twin[0], lines[1] + lines_twin[1], loc="upper right", fontsize=8, ncol=3)
    axis.grid(alpha=0.3)

    axis = axes[1]
    axis.plot(times, clip.root_pos[:, 2], color="black", label="root (trunk) z")
    axis.set_ylabel("root height (m)")
    axis.legend(loc="upper right", fontsize=8)
    axis.grid(alpha=0.3)

    axis = axes[2]
    axis.plot(times, clip.foot_pos[:, 0, 2] * 1000, color="tab:blue", label="left sole z")
    axis.plot(times, clip.foot_pos[:, 1, 2] * 1000, color="tab:orange", label="right sole z")
    _contact_bar(axis, times, clip.foot_contacts[:, 0], -5.0, "tab:blue", "left contact")
    _contact_bar(axis, times, clip.foot_contacts[:, 1], -8.0, "tab:orange", "right contact")
    axis.set_ylabel("foot height (mm)")
    axis.legend(loc="upper right", fontsize=8, ncol=4)
    axis.grid(alpha=0.3)

    axis = axes[3]
    for index, name in enumerate(clip.joint_names):
        color, style = _joint_style(name, index, len(clip.joint_names))
        axis.plot(times, clip.joint_pos[:, index], color=color, linestyle=style, label=name, lw=1.2)
    axis.set_ylabel("joint angle (rad)")
    axis.set_xlabel("time (s)")
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def _title(path: Path, clip) -> str:
    placo = clip.metadata.get("Placo", {})
    command = ""
    if "dx" in placo:
        command = f"  dx={placo['dx']:.3f} m  dy={placo['dy']:.3f} m  dθ={placo['dtheta']:.3f} rad per step"
    return f"{path.name}  ({clip.robot}, {clip.num_frames} frames at {clip.fps:g} fps){command}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", help="clip JSON")
    parser.add_argument("-o", "--output", default=None, help="PNG to write (default: the clip path with .png)")
    args = parser.parse_args(argv)
    with exit_on_error():
        path = Path(args.clip)
        clip = load_clip(path)
        figure = plot_clip(clip, _title(path, clip))
        output = Path(args.output) if args.output else path.with_suffix(".png")
        with atomic_open(output, "wb") as stream:
            figure.savefig(stream, format="png", dpi=90)
        plt.close(figure)
        print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
