"""Fixtures shared by the tests: the mini_bdx spec, a two-clip motion library and a briefly trained
DucklingCommand checkpoint."""

import pytest

from awd.robot import load_robot_spec
from awd.motion.motion_lib import motion_lib_for_robot


def pytest_configure(config):
    # The Warp tests compile MuJoCo Warp's kernels for the CPU: at -O0 in half the time of Warp's default -O2
    # (52 s against 111 s with an empty cache on 2 cores); they run a few steps only.
    import warp

    warp.config.optimization_level = 0
    # torch 2.13 deprecates torch.jit: rl_games scripts parts of its models, and awd keeps TorchScript for policy.pt
    # (README "Export and deploy" says why). placo's collision library still imports itself as hppfcl.
    config.addinivalue_line("filterwarnings", r"ignore:`torch\.jit\.:DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore:Please update your 'hppfcl' imports:DeprecationWarning")


@pytest.fixture(scope="module")
def spec():
    return load_robot_spec("mini_bdx")


@pytest.fixture(scope="module")
def motion_lib(spec):
    from test_tasks import make_clip

    return motion_lib_for_robot(spec, [make_clip(spec), make_clip(spec, speed=-0.1, yaw_rate=-0.3)])


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory):
    """nn/DucklingCommand.pth of a one-epoch run of run.py (small networks, 8 envs, CPU MuJoCo)."""
    from test_run import SMALL

    from awd.run import main

    output = tmp_path_factory.mktemp("trained")
    main([*SMALL, "--output_path", str(output), "--max_iterations", "1"])
    (path,) = output.glob("*/nn/DucklingCommand.pth")
    return path


def pytest_collection_modifyitems(items):
    # The Warp group (one worker, kernel compile included) is the suite's longest unit: handed out first, it runs
    # beside the rest instead of after it.
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
