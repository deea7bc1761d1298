"""The one read API over canonical events, whatever holds them; and the DuckDB connections.

:class:`EventSet` is what :class:`~auditlab.store.workspace.Workspace` (events in memory) and
:class:`~auditlab.store.persistent.Store` (Parquet files named by a manifest) share: SQL,
counts, frames, filters and summaries over a DuckDB connection whose ``events`` and
``quarantine`` are tables or views. The events themselves belong to a *backend* that the class
holds (composition): it owns the connection and knows how events are added.

Examples:
    >>> from auditlab import load
    >>> ws = load("data/samples/portal_audit_export.zip")
    >>> isinstance(ws, EventSet), ws.count() == ws.last_report.loaded
    (True, True)
    >>> con = connect(Settings(memory_limit="256MB"), limit=True)
    >>> con.sql("SELECT current_setting('memory_limit'), current_setting('TimeZone')").fetchall()
    [('244.1 MiB', 'UTC')]
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from auditlab.config import Settings
from auditlab.schema import SORT_SQL

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa

    from auditlab.explorer.view import Explorer
    from auditlab.filters.model import Query
    from auditlab.io.mapping import Mapping
    from auditlab.store.report import LoadReport
    from auditlab.store.result import QueryResult
    from auditlab.store.summary import Summary

__all__ = ["Backend", "EventSet", "connect"]


def connect(
    settings: Settings, *, limit: bool, temp_directory: Path | str | None = None
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection pinned to UTC, without DuckDB's progress bar.

    Args:
        settings: ``memory_limit`` and ``temp_directory`` apply when ``limit`` is true.
        limit: bound DuckDB's memory (it spills past the limit to the temp directory). A store's
            connections are bounded; an in-memory workspace holds its events in memory by design.
        temp_directory: where to spill (default: a folder of this connection's own inside
            ``settings.temp_directory``, else inside the system's temp folder: two processes
            never share DuckDB's spill files).
    """
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB's own bar writes to stdout on long statements: it would corrupt `--json` output
    con.execute("SET enable_progress_bar = false")
    if limit:
        if settings.temp_directory and not temp_directory:
            Path(settings.temp_directory).mkdir(parents=True, exist_ok=True)  # DuckDB makes one level only
        spill = temp_directory or Path(settings.temp_directory or tempfile.gettempdir()) / (
            f"auditlab-spill-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        con.execute("SET memory_limit = ?", [settings.memory_limit])
        con.execute("SET temp_directory = ?", [str(spill)])
    return con


class Backend(Protocol):
    """What holds the events: a DuckDB connection with ``events`` and ``quarantine``."""

    con: duckdb.DuckDBPyConnection


class EventSet:
    """Canonical audit events in DuckDB, with Polars and Arrow views of them.

    ``events`` (table or view) has the columns of :data:`auditlab.schema.EVENTS_SCHEMA`;
    ``quarantine`` has the rejected lines. Every listing is ordered ``timestamp DESC, event_id``.
    Use :func:`~auditlab.load` (in memory) or :func:`~auditlab.open_store` (on disk).

    Attributes:
        mapping: the field mapping for loads.
        settings: limits and knobs.
        last_report: the :class:`LoadReport` of the latest load through this object, if any.
    """

    _backend: Backend
    mapping: Mapping
    settings: Settings
    last_report: LoadReport | None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection holding ``events`` and ``quarantine``."""
        return self._backend.con

    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """Run DuckDB SQL over ``events`` and ``quarantine``; values go in ``params``.

        Returns a lazy relation: ``.pl()``, ``.to_arrow_table()``, ``.fetchall()``, ``.show()``.

        Examples:
            >>> from auditlab import load
            >>> ws = load("data/samples/portal_audit_export.zip")
            >>> ws.sql("SELECT count(*) FROM events WHERE action = $a", {"a": "user.login"}).fetchall()[0][0] > 0
            True
        """
        return self.con.sql(query, params=params)

    def to_arrow(self) -> pa.Table:
        """All events as an Arrow table, newest first."""
        return self.con.sql(f"SELECT * FROM events ORDER BY {SORT_SQL}").to_arrow_table()  # noqa: S608

    def to_polars(self) -> pl.DataFrame:
        """All events as a Polars DataFrame, newest first."""
        frame: pl.DataFrame = self.con.sql(f"SELECT * FROM events ORDER BY {SORT_SQL}").pl()  # noqa: S608
        return frame

    def count(self) -> int:
        """How many events there are."""
        row = self.con.execute("SELECT count(*) FROM events").fetchall()[0]
        return int(row[0]) if row else 0

    def time_span(self) -> tuple[datetime, datetime] | None:
        """(oldest, newest) event timestamps in UTC, or None when empty."""
        row = self.con.execute("SELECT min(timestamp), max(timestamp) FROM events").fetchall()[0]
        if not row or row[0] is None:
            return None
        return row[0], row[1]

    def quarantine(self) -> duckdb.DuckDBPyRelation:
        """Every quarantined line: source, source_line, reason, text."""
        return self.con.sql("SELECT * FROM quarantine ORDER BY source, source_line")

    def query(
        self,
        query: Query | str | None = None,
        *,
        allow_unknown_actions: bool = False,
        anchor: datetime | None = None,
    ) -> QueryResult:
        """Filter the events with the Portal filter model (a :class:`Query` or its text form).

        Without a time range the query covers the 24 hours up to the newest event, as the
        Portal's page does (``"... ; all time"`` covers everything).

        Examples:
            >>> from auditlab import load
            >>> ws = load("data/samples/portal_audit_export.zip")
            >>> ws.query("action is user.login; outcome is failure; all time").count() > 0
            True
        """
        from auditlab.store.result import QueryResult

        return QueryResult(self, query, allow_unknown_actions=allow_unknown_actions, anchor=anchor)

    def explore(self, query: Query | str | None = None, **options: Any) -> Explorer:
        """Open the Audit Logs explorer on these events (see :class:`auditlab.Explorer`)."""
        from auditlab.explorer.view import Explorer

        return Explorer(self, query, **options)

    def summary(self, *, top: int = 20) -> Summary:
        """Events, time span, counts by action, outcome and day."""
        from auditlab.store.summary import summarize

        return summarize(self, top=top)
