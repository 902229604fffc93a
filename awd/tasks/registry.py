"""The one task registry: `TASKS` maps a task name to its class; `register` adds a class under its `task_name`.
The concrete tasks register themselves (awd.tasks.tasks, imported by the package), so the config validator reads
the names without importing the tasks."""

from __future__ import annotations

TASKS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: `TASKS[cls.task_name] = cls`."""
    TASKS[cls.task_name] = cls
    return cls
