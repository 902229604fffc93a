"""File helpers: safe YAML, atomic writes (write to a temporary file or folder, then rename)."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from awd.errors import AwdError


class SafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that also reads 1e-5, 1.0e12 and 3E4 as numbers (YAML 1.1 needs a dot and an exponent
    sign, so PyYAML reads those as strings)."""


SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def load_yaml_text(text: str) -> Any:
    """Safe-load YAML text (SafeLoader above)."""
    return yaml.load(text, Loader=SafeLoader)


def read_yaml(path: str | Path) -> Any:
    """Safe-load a YAML file; a missing file or a syntax error becomes an AwdError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise AwdError(path, None, "file not found")
    try:
        with open(path, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=SafeLoader)
    except yaml.YAMLError as error:
        raise AwdError(path, None, f"invalid YAML ({str(error).splitlines()[0]})") from None


def read_json(path: str | Path) -> Any:
    """Load a JSON file; a missing file or a syntax error becomes an AwdError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise AwdError(path, None, "file not found")
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except json.JSONDecodeError as error:
        raise AwdError(path, None, f"invalid JSON ({error})") from None


@contextmanager
def atomic_open(path: str | Path, mode: str = "w"):
    """Open a temporary file next to `path` (`.NAME.PID.*.tmp`); on success rename it over `path`, on failure
    remove it. Temporaries of `path` left by a writer that no longer runs (a kill -9) are removed first. An OS
    error (full disk, no permission) becomes a one-line AwdError naming `path`; the file there before is kept."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise AwdError(path, None, f"could not write ({error.strerror or error})") from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, path)
    except BaseException as error:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        if isinstance(error, OSError):
            raise AwdError(path, None, f"could not write ({error.strerror or error}); the file there before, "
                           "if any, is kept") from None
        raise


@contextmanager
def atomic_directory(path: str | Path, marker: str):
    """Yield a temporary folder next to `path`; on success it replaces `path` (an earlier folder holding the
    file `marker`, or an empty one), on failure it is removed. A non-empty `path` without `marker` is refused
    (AwdError) so that nothing else is overwritten."""
    path = Path(path).resolve()
    if path.exists() and not (path.is_dir() and ((path / marker).is_file() or not any(path.iterdir()))):
        raise AwdError(path, None,
                       f"exists and is not an earlier output of this tool (no {marker}); choose another folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield building
        os.chmod(building, 0o777 & ~_umask())
        if path.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, retired)
            os.replace(building, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(building, path)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _remove_stale_temporaries(path: Path) -> None:
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            stale.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_json_atomic(path: str | Path, data: Any, indent: int | None = None) -> None:
    """Write JSON so that readers see either the old file or the complete new one."""
    with atomic_open(path) as stream:
        json.dump(data, stream, indent=indent)


def write_yaml_atomic(path: str | Path, data: Any) -> None:
    """Write YAML atomically."""
    with atomic_open(path) as stream:
        yaml.safe_dump(data, stream, sort_keys=False)
