"""Open the workspace a command works on: ``--store DIR`` or ``PATH...`` (not both)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from auditlab.store.events import EventSet

__all__ = ["open_workspace"]


def open_workspace(store: str | None, paths: tuple[str, ...], *, quiet: bool = False) -> EventSet:
    """The store at ``store`` (read as it is), or the ``paths`` loaded into memory.

    A progress bar shows on long loads when stderr is a terminal and ``quiet`` is false.
    """
    if store and paths:
        raise click.UsageError("give --store DIR or PATH..., not both")
    if store:
        from auditlab.store.persistent import open_store

        return open_store(store, create=False)
    if not paths:
        raise click.UsageError("give PATH... (export files, ZIPs, folders) or --store DIR")
    from auditlab.store.workspace import load

    return load(*paths, progress=not quiet and sys.stderr.isatty())
