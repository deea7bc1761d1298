"""Shared click options: one decorator per flag, used by every command that takes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["json_option", "paths_argument", "store_option"]

F = TypeVar("F", bound=Callable[..., Any])


def store_option(func: F) -> F:
    """``--store DIR``: a persistent store to read or write."""
    return click.option(
        "--store",
        "store",
        type=click.Path(file_okay=False, path_type=str),
        default=None,
        help="Persistent store directory.",
    )(func)


def paths_argument(func: F) -> F:
    """``PATH...``: export files, ZIPs or folders."""
    return click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))(func)


def json_option(func: F) -> F:
    """``--json``: print one JSON object instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
