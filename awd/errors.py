"""The project's user-facing error: one line naming the file, the field and what was expected; and the number
test input checks share."""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from pathlib import Path


class AwdError(ValueError):
    """Bad user input: a clip, a config, a robot spec, a checkpoint or a missing file."""

    def __init__(self, source: str | Path | None, field: str | None, message: str):
        self.source = str(source) if source is not None else None
        self.field = field
        self.message = message
        where = ": ".join(part for part in (self.source, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


def is_number(value, finite: bool = True) -> bool:
    """An int or float (not a bool), finite unless `finite` is False."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and (not finite or math.isfinite(value))


@contextmanager
def exit_on_error():
    """Turn an AwdError raised inside a command-line tool into one line on stderr and exit code 2."""
    try:
        yield
    except AwdError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
