"""The robot model an export carries: the spec's MJCF as one file (includes expanded) and every mesh, texture and
height field it reads, so that an export folder runs on a machine without the training checkout. Paths are
relative to the folder they are written to; `files` maps each to its sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mujoco

from awd.errors import AwdError

ASSETS = "assets"


def robot_files(mjcf_path: Path) -> dict[str, bytes]:
    """{relative path: content}: `<name>.xml` first, then its assets under `assets/`."""
    mjcf_path = Path(mjcf_path)
    model_spec = mujoco.MjSpec.from_file(str(mjcf_path))
    root = mjcf_path.parent
    files: dict[str, bytes] = {}
    for kind, folder in (("meshes", model_spec.meshdir), ("textures", model_spec.texturedir),
                         ("hfields", model_spec.meshdir)):
        for element in getattr(model_spec, kind):
            if not element.file:
                continue
            source = root / folder / element.file
            if not source.is_file():
                raise AwdError(mjcf_path, f"{kind}.file", f"asset not found: {source}")
            target = f"{ASSETS}/{Path(element.file).as_posix()}"
            files[target] = source.read_bytes()
    model_spec.meshdir = model_spec.texturedir = ASSETS
    mjcf = f"{mjcf_path.stem}.xml"
    return {mjcf: model_spec.to_xml().encode("utf-8"), **files}


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {path: hashlib.sha256(content).hexdigest() for path, content in files.items()}
