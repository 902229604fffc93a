"""A robot in a foreign layout (tests/foreign_robot.py: free joint on a base below the trunk frame, feet collision
on the ankle links, a mirrored hip axis, no head body, two locked joints, other frame names) goes from its files
and a hand-written spec through the one setup command, gait generation, two training iterations, export and
sim2sim."""

import importlib.util
import json
import sys
from pathlib import Path

from foreign_robot import write_foreign_duck
from test_run import SMALL

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_tool", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_foreign_robot_goes_from_its_files_to_sim2sim(tmp_path, capsys):
    from awd.export import main as export_main
    from awd.gait.cli import main as gait_main
    from awd.robot import load_robot_spec
    from awd.run import main as run_main

    spec_path = write_foreign_duck(tmp_path / "robot")
    assert _tool("robot_setup").main([str(spec_path), "--write"]) == 0
    spec = load_robot_spec(spec_path)
    assert spec.root_body == "base" and spec.head_body is None and spec.num_joints == 14
    assert spec.default_joint_pos[spec.joint_index("right_hip_pitch")] > 0.8  # the mirrored axis' sign, found
    clips = tmp_path / "clips"
    assert gait_main(["--robot", str(spec_path), "--names", "standing,forward_medium,turn_left_medium", "-l", "2",
                      "-o", str(clips), "-q"]) == 0
    runs = tmp_path / "runs"
    run_main([*SMALL, "--output_path", str(runs), "--max_iterations", "2", f"env.robot={spec_path}",
              f"env.motion_file={clips}", "env.amp.exclude_joints=[neck_pitch, head_pitch, head_yaw, head_roll]"])
    assert "head_height off: the robot spec names no head body" in capsys.readouterr().out
    (checkpoint,) = runs.glob("*/nn/DucklingCommand.pth")
    export = tmp_path / "export"
    export_main([str(checkpoint), "-o", str(export)])
    metadata = json.loads((export / "policy.json").read_text())
    assert metadata["robot"]["root_body"] == "base"
    assert metadata["robot"]["foot_contact_bodies"] == ["left_ankle_link", "right_ankle_link"]
    assert [entry["name"] for entry in metadata["joints"]["locked"]] == ["left_antenna", "right_antenna"]
    report = tmp_path / "sim2sim.json"
    _tool("sim2sim").main([str(export), "--num_envs", "2", "--episode_s", "2", "--resample_s", "2", "--settle_s", "1",
                           "--json", str(report)])
    result = json.loads(report.read_text())
    assert result["episodes"] == 2
