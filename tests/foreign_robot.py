"""A robot in a foreign layout, built from mini_bdx's files the way published robots differ from ours: the free
joint on a `base` body below the trunk frame, each foot's collision box on its ankle link with a geometry-less sole
frame, the right hip pitch axis mirrored, sole and trunk frames named `l_sole`, `r_sole`, `torso`, and (in the spec)
no head body and the antennas locked."""

from __future__ import annotations

import json
from pathlib import Path

from awd.robot import load_robot_spec

DUCK_XML = load_robot_spec("mini_bdx").mjcf_path
FOOT_BOX = '<geom class="foot" type="box" pos="0 0 0.008" size="0.055 0.03 0.008"/>'


def base_below_trunk(text: str, drop: float = 0.088) -> str:
    head = '<body name="trunk" pos="0 0 0.235">\n      <freejoint name="root"/>'
    assert head in text
    text = text.replace(head, f'<body name="base" pos="0 0 {0.235 - drop}"><freejoint name="root"/>'
                              '<inertial pos="0 0 0" mass="0.01" diaginertia="1e-6 1e-6 1e-6"/>'
                              f'<body name="trunk" pos="0 0 {drop}">')
    return text.replace("    </body>\n  </worldbody>", "    </body></body>\n  </worldbody>")


def feet_on_ankles(text: str) -> str:
    assert text.count(FOOT_BOX) == 2
    text = text.replace(FOOT_BOX, "")
    for side in ("left", "right"):
        anchor = f'<body name="{side}_foot" pos="0 0 -0.025">'
        text = text.replace(anchor, f'<geom class="foot" type="box" pos="0 0 -0.017" size="0.055 0.03 0.008"/>{anchor}')
    return text


def mirrored_right_hip(text: str) -> str:
    line = '<joint name="right_hip_pitch" axis="0 1 0" range="-1.4 0.6"/>'
    assert line in text
    return text.replace(line, '<joint name="right_hip_pitch" axis="0 -1 0" range="-0.6 1.4"/>')


def renamed(text: str, names: dict) -> str:
    for old, new in names.items():
        text = text.replace(f'name="{old}"', f'name="{new}"')
    return text


SPEC = """\
name: foreign_duck
mjcf: foreign_duck.xml
urdf: foreign_duck.urdf
placo_defaults: walk.json
control: {{sim_dt: 0.005, decimation: 4, action_scale: 0.5}}
bodies:
  trunk: torso
  feet: [l_sole, r_sole]
  foot_contact_bodies: [left_ankle_link, right_ankle_link]
  key_bodies: [l_sole, r_sole]
init: {{root_height: 0.2, root_quat: [0, 0, 0, 1]}}
joint_defaults: {{kp: 6.5, kd: 0.65, effort_limit: 3.6}}
joints:
{joints}
locked_joints: [{{name: left_antenna, angle: 0.0}}, {{name: right_antenna, angle: 0.0}}]
"""


def write_foreign_duck(folder: Path) -> Path:
    """The MJCF, a hand-written spec (first-guess pose: every joint at 0) and walk parameters; the spec's path."""
    folder.mkdir(parents=True, exist_ok=True)
    text = renamed(mirrored_right_hip(feet_on_ankles(base_below_trunk(DUCK_XML.read_text()))),
                   {"trunk": "torso", "left_foot": "l_sole", "right_foot": "r_sole"})
    (folder / "foreign_duck.xml").write_text(text)
    duck = load_robot_spec("mini_bdx")
    names = [name for name in duck.joint_names if "antenna" not in name]
    (folder / "robot.yaml").write_text(SPEC.format(joints="\n".join(f"  - {{name: {n}, default: 0.0}}" for n in names)))
    walk = json.loads(duck.placo_defaults_path.read_text())
    walk["joint_angles"] = {key: value for key, value in walk["joint_angles"].items() if "antenna" not in key}
    (folder / "walk.json").write_text(json.dumps(walk))
    return folder / "robot.yaml"
