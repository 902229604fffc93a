"""Cold start of the MuJoCo Warp engine: compile the Warp modules a step needs in parallel, not one by one.

Warp compiles a module the first time one of its kernels is launched, so a first MuJoCo Warp step compiles its
40-odd modules in series (110 s for the duck, 145 s for the G1 on a fresh H200; the largest module alone takes
35-40 s). `compile_in_parallel` runs the step's Python once with launches recorded instead of made (loops and
branches on device values run their bodies once), then compiles every recorded module in a thread pool. The
real launches that follow find them compiled; a module the dry pass missed still compiles at its first launch.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable


def compile_in_parallel(wp, device, launches: Callable[[], None], workers: int | None = None) -> int:
    """Compile, on `device`, every module that `launches()` would launch, in `workers` threads (default: the
    cores shared among torchrun's processes on this host); returns the number of (module, block size) variants
    compiled or loaded from Warp's cache, 0 when the dry pass failed (said on stderr)."""
    try:
        with _recorded_launches(wp) as variants, wp.ScopedDevice(device):
            launches()
    except Exception as error:  # an optimisation only: without it, Warp compiles each module at its first launch
        print(f"awd: kernels compile one by one at first use (the dry pass for a parallel compile failed: {error!r})",
              file=sys.stderr)
        return 0
    pending = list(dict.fromkeys(variants))
    workers = workers or (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for done in [pool.submit(wp.force_load, device, [module], block_dim, 0) for module, block_dim in pending]:
            done.result()
    return len(pending)


@contextmanager
def _recorded_launches(wp):
    """While active, wp.launch and wp.launch_tiled record (module, block size) and launch nothing;
    capture_while runs its body once, capture_if both branches once."""
    variants: list = []
    saved = {name: getattr(wp, name) for name in ("launch", "launch_tiled", "capture_while", "capture_if")}

    def launch(kernel, *args, block_dim=None, **kwargs):
        if kernel.is_generic:
            return saved["launch"](kernel, *args, block_dim=block_dim, **kwargs)
        variants.append((kernel.module, block_dim))

    def launch_tiled(kernel, *args, block_dim=None, **kwargs):
        variants.append((kernel.module, block_dim or kernel.module.options["block_dim"]))

    def capture_while(condition, while_body, stream=None, **kwargs):
        while_body(**kwargs)

    def capture_if(condition, on_true=None, on_false=None, stream=None, **kwargs):
        for branch in (on_true, on_false):
            if callable(branch):
                branch(**kwargs)

    for name, replacement in (("launch", launch), ("launch_tiled", launch_tiled),
                              ("capture_while", capture_while), ("capture_if", capture_if)):
        setattr(wp, name, replacement)
    try:
        yield variants
    finally:
        for name, original in saved.items():
            setattr(wp, name, original)
