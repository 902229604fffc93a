"""SIGTERM and SIGINT (how `nohup` users stop a run: `kill PID`, Ctrl-C) ask training to stop at the end of the
current epoch, which then saves the latest checkpoint as at a normal finish; a second signal stops at once."""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    def __init__(self):
        self.signal_name: str | None = None
        self._previous = {}

    def install(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            self._previous = {number: signal.signal(number, self._handle) for number in SIGNALS}
        return self

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def _handle(self, number, frame) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(number).name
        print(f"[awd] {self.signal_name}: stopping after this epoch and saving the latest checkpoint "
              "(send it again to stop now)", flush=True)

    @property
    def requested(self) -> bool:
        return self.signal_name is not None
