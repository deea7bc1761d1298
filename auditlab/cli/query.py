"""``auditlab query``: filter events the way the Portal's *View Audit Logs* page does."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from auditlab.cli._options import filter_options, paths_argument, store_option
from auditlab.cli._workspace import open_workspace

if TYPE_CHECKING:
    from auditlab.filters import Query

    # pragma: no cover
    from auditlab.store.result import QueryResult

__all__ = ["query"]

#: Columns of the table format, as on the Portal's page.
TABLE_COLUMNS = (
    "timestamp",
    "action",
    "outcome",
    "user_email",
    "auth_context",
    "ip_address",
    "resource_type",
    "resource_name",
)
TABLE_DEFAULT_LIMIT = 50


@click.command("query")
@paths_argument
@store_option
@filter_options()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "ndjson", "cef", "json"], case_sensitive=False),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--count", "count_only", is_flag=True, help="Print only the number of matching events.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="At most N events (table: 50 by default)."
)
def query(
    paths: tuple[str, ...],
    store: str | None,
    query: Query,
    fmt: str,
    count_only: bool,
    limit: int | None,
) -> None:
    """Filter events by Portal fields and a time range, newest first.

    The default range is the 24 hours ending at the newest event. An invalid filter exits 2.

    Example:

        auditlab query data/samples/portal_audit_export.zip --since 7d --where "outcome is failure" --count
    """
    ws = open_workspace(store, paths, quiet=True)
    result = ws.query(query)
    if count_only:
        click.echo(result.count())
        return
    fmt = fmt.lower()
    if fmt == "table":
        _echo_table(result, TABLE_DEFAULT_LIMIT if limit is None else limit)
    elif fmt == "json":
        click.echo(result.to_polars(limit=limit).write_json())
    else:
        _write_events(result, fmt, limit)


def _echo_table(result: QueryResult, limit: int) -> None:
    import polars as pl

    frame = result.to_polars(limit=limit).select(TABLE_COLUMNS)
    total = result.count()
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=48,
        tbl_width_chars=250,
    ):
        click.echo(str(frame))
    click.echo(f"{frame.height} of {total} events ({result.query.to_text()})")


#: format -> "module:function" of the writer, called as ``writer(events, binary_stream)``.
WRITERS: dict[str, str] = {"ndjson": "auditlab.io.ndjson:write_ndjson", "cef": "auditlab.io.cef:write_cef"}


def _write_events(result: QueryResult, fmt: str, limit: int | None) -> None:
    from importlib import import_module

    module, name = WRITERS[fmt].split(":")
    writer: Callable[..., object] = getattr(import_module(module), name)
    stream = sys.stdout.buffer
    # without a limit the writer streams the result from where it lives (a store: bounded memory)
    writer(result if limit is None else result.to_arrow(limit=limit), stream)
    stream.flush()
