"""Datasets of motion clips: one clip file, a folder of clips (`*.json`, sorted by name, not recursive) or a
YAML list `motions: [{file: clip.json, weight: 1.0}, ...]` whose paths resolve relative to the YAML file.
A YAML weight overrides the clip's own MotionWeight. Duplicate YAML entries are allowed: each entry is an
independent clip with its own weight (listing a clip twice doubles its share)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

from awd.errors import AwdError
from awd.motion.clip import Clip, load_clip
from awd.utils.io import read_yaml

YAML_SUFFIXES = (".yaml", ".yml")
ENTRY_KEYS = ("file", "weight")


def load_dataset(path, joint_names=None) -> list[Clip]:
    """Load every clip of a dataset (validated; `joint_names` is the robot's joint order)."""
    path = Path(path)
    if path.is_dir():
        return _load_folder(path, joint_names)
    if not path.is_file():
        raise AwdError(path, None, "motion file or folder not found")
    if path.suffix.lower() in YAML_SUFFIXES:
        return _load_yaml(path, joint_names)
    if path.suffix.lower() == ".json":
        return [load_clip(path, joint_names)]
    raise AwdError(path, None, f"expected a clip (.json), a dataset (.yaml/.yml) or a folder of clips, "
                   f"found suffix {path.suffix!r}")


def dataset_files(path) -> list[Path]:
    """The clip files of a dataset in load order (a YAML's entries as listed, duplicates kept)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.glob("*.json") if p.is_file())
    if path.suffix.lower() in YAML_SUFFIXES:
        return [_entry_path(path, entry["file"]) for entry in read_yaml(path).get("motions", [])]
    return [path]


def _entry_path(yaml_path: Path, file: str) -> Path:
    """A YAML entry's clip path: absolute, or relative to the YAML file."""
    return Path(file) if Path(file).is_absolute() else yaml_path.parent / file


def dataset_sha256(path) -> str:
    """One hash of a dataset's clip files (names and bytes, in load order)."""
    digest = hashlib.sha256()
    for file in dataset_files(path):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _load_folder(folder: Path, joint_names) -> list[Clip]:
    files = dataset_files(folder)
    if not files:
        raise AwdError(folder, None, "expected a folder holding clip files (*.json), found none")
    return [load_clip(file, joint_names) for file in files]


def _entry_weight(path: Path, index: int, entry: dict) -> float | None:
    if "weight" not in entry:
        return None
    weight = entry["weight"]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
        raise AwdError(path, f"motions[{index}].weight", f"expected a positive number, found {weight!r}")
    return float(weight)


def _load_yaml(path: Path, joint_names) -> list[Clip]:
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise AwdError(path, None, f"expected a mapping with a 'motions' list, found {type(document).__name__}")
    if "motions" not in document:
        raise AwdError(path, "motions", "missing required field (a list of {file, weight} entries)")
    unknown = sorted(set(document) - {"motions"})
    if unknown:
        raise AwdError(path, unknown[0], "unknown field (expected only 'motions')")
    entries = document["motions"]
    if not isinstance(entries, list) or not entries:
        raise AwdError(path, "motions", f"expected a non-empty list of {{file, weight}} entries, found {entries!r}")
    clips = []
    for index, entry in enumerate(entries):
        field = f"motions[{index}]"
        if not isinstance(entry, dict):
            raise AwdError(path, field, f"expected a mapping with 'file' and optional 'weight', found {entry!r}")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise AwdError(path, f"{field}.{unknown[0]}", "unknown key (expected 'file' and optional 'weight')")
        file = entry.get("file")
        if not isinstance(file, str) or not file:
            raise AwdError(path, f"{field}.file", f"expected a clip path, found {file!r}")
        weight = _entry_weight(path, index, entry)
        clip_path = _entry_path(path, file)
        if not clip_path.is_file():
            raise AwdError(path, f"{field}.file", f"clip file not found: {clip_path}")
        clip = load_clip(clip_path, joint_names)
        clips.append(clip if weight is None else dataclasses.replace(clip, weight=weight))
    return clips
