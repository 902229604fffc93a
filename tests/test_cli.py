"""The `awd` command: every subcommand reaches the entry point, tool or benchmark it names; bad names are one line."""

import subprocess
import sys
from pathlib import Path

import pytest

from awd.cli import main


def test_help_lists_the_subcommands_and_the_benchmarks(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    assert "awd train" in out and "awd bench NAME" in out and "time_to_walk" in out and "feature_probe" in out


@pytest.mark.parametrize("argv, usage", [
    (["eval", "--help"], "usage: awd eval"),
    (["play", "--help"], "usage: awd play"),
    (["gait", "--help"], "usage: awd gait"),
    (["perform", "--help"], "usage: awd perform"),
    (["plot", "--help"], "usage:"),
    (["bench", "clip_replay", "--help"], "usage:"),
])
def test_subcommands_reach_their_scripts(argv, usage, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(usage)


@pytest.mark.parametrize("argv, words", [
    (["frob"], "unknown 'frob'"),
    (["bench", "nope"], "expected a benchmark name"),
    (["bench"], "got 'none'"),
])
def test_bad_subcommands_are_one_line_and_exit_code_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and words in line


def test_pip_installs_the_command():
    script = Path(sys.executable).parent / "awd"  # where pip puts console scripts of this environment
    assert script.is_file(), "pip install -e . installs the `awd` command"
    run = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "awd bench NAME" in run.stdout
