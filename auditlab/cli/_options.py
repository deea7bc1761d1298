"""Shared click options: one decorator per flag, used by every command that takes it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.filters import Query

__all__ = ["filter_options", "json_option", "paths_argument", "query_from_options", "store_option"]

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


def filter_options(*, default_since: str = "24h") -> Callable[[F], F]:
    """``--where``, ``--since``, ``--start``, ``--end``, ``--allow-unknown-actions``: a Portal filter.

    The command receives them as one keyword argument, ``query``: the
    :class:`~auditlab.filters.Query` they describe (built before anything is loaded, so a bad
    filter fails fast). Without ``--since``/``--start``/``--end`` the range is ``default_since``
    (``"24h"`` as in the Portal; ``"all"`` for commands that take the whole selection).
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(
            *args: Any,
            where: tuple[str, ...],
            since: str | None,
            start: str | None,
            end: str | None,
            allow_unknown_actions: bool,
            **kwargs: Any,
        ) -> Any:
            if since is None and not (start or end):
                since = default_since
            kwargs["query"] = query_from_options(where, since, start, end, allow_unknown_actions)
            return func(*args, **kwargs)

        options = [
            click.option(
                "--where",
                "where",
                multiple=True,
                metavar='"FIELD OP VALUES"',
                help='A filter, e.g. "outcome is failure" or "action is_any user.login,user.logout". '
                "Repeatable; ANDed.",
            ),
            click.option(
                "--since",
                "since",
                type=click.Choice(["24h", "7d", "30d", "all"], case_sensitive=False),
                default=None,
                help=f"Time range ending at the newest event [default: {default_since}].",
            ),
            click.option(
                "--start", "start", metavar="ISO", default=None, help="Custom range start (inclusive, UTC)."
            ),
            click.option(
                "--end", "end", metavar="ISO", default=None, help="Custom range end (exclusive, UTC)."
            ),
            click.option(
                "--allow-unknown-actions", is_flag=True, help="Accept actions outside the Portal catalog."
            ),
        ]
        wrapped: Any = command
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate


def query_from_options(
    where: tuple[str, ...],
    since: str | None,
    start: str | None,
    end: str | None,
    allow_unknown_actions: bool = False,
) -> Query:
    """The :class:`~auditlab.filters.Query` that :func:`filter_options` describe.

    Raises:
        click.UsageError: ``--since`` together with ``--start``/``--end``.
        QueryError: a filter or date that does not parse (exit 2 with its message).
    """
    from auditlab.filters import Query, TimeRange, parse_condition

    if since and (start or end):
        raise click.UsageError("give --since or --start/--end, not both")
    time_range = TimeRange("custom", start=start, end=end) if (start or end) else TimeRange(since)
    conditions = [parse_condition(text) for text in where]
    return Query(conditions, time_range, allow_unknown_actions=allow_unknown_actions)
