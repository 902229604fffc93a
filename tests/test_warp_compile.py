"""The MuJoCo Warp engine's parallel cold start (awd.engine.warp_compile): a dry pass records the modules a
function would launch without launching anything, even through a device-side loop, and compiles them."""

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("warp") is None, reason="warp not installed")


def test_modules_are_compiled_without_a_launch_and_launches_are_restored():
    import warp as wp

    from awd.engine.warp_compile import compile_in_parallel

    @wp.kernel(module="unique")
    def add_one(values: wp.array(dtype=wp.int32)):
        i = wp.tid()
        values[i] = values[i] + 1

    device = wp.get_device("cpu")
    values = wp.zeros(4, dtype=wp.int32, device=device)
    forever = wp.ones(1, dtype=wp.int32, device=device)   # run for real, this loop would never end

    def launches():
        wp.launch(add_one, dim=4, inputs=[values])
        wp.capture_while(forever, while_body=lambda: wp.launch(add_one, dim=4, inputs=[values]))

    launch = wp.launch
    assert not add_one.module.execs
    assert compile_in_parallel(wp, device, launches, workers=2) == 1
    assert values.numpy().tolist() == [0, 0, 0, 0]
    assert add_one.module.execs and wp.launch is launch
    wp.launch(add_one, dim=4, inputs=[values], device=device)
    assert values.numpy().tolist() == [1, 1, 1, 1]


def test_a_failing_dry_pass_leaves_the_compile_to_warp(capsys):
    import warp as wp

    from awd.engine.warp_compile import compile_in_parallel

    launch = wp.launch

    def launches():
        raise RuntimeError("a step that reads a device value on the host")

    assert compile_in_parallel(wp, wp.get_device("cpu"), launches) == 0
    assert wp.launch is launch and "one by one at first use" in capsys.readouterr().err
