"""The in-memory workspace: a DuckDB database whose ``events`` table holds canonical events.

Examples:
    >>> ws = load("data/samples/portal_audit_export.zip")
    >>> ws.count() == ws.last_report.loaded
    True
    >>> ws.sql("SELECT count(DISTINCT action) FROM events").fetchall()[0][0]
    85
    >>> ws.to_polars().columns[:3]
    ['event_id', 'timestamp', 'action']
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from auditlab.config import Settings
from auditlab.errors import InputError
from auditlab.io.mapping import Mapping
from auditlab.schema import COLUMNS, QUARANTINE_SCHEMA, SORT_SQL, duckdb_columns, duckdb_types
from auditlab.store.ingest import NEW_QUARANTINE, adopt_new, drop_new, ingest
from auditlab.store.report import LoadReport

if TYPE_CHECKING:
    import polars as pl

    from auditlab._types import PathLike
    from auditlab.explorer.view import Explorer
    from auditlab.filters.model import Query
    from auditlab.store.result import QueryResult
    from auditlab.store.summary import Summary

__all__ = ["Workspace", "load"]


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


class Workspace:
    """Canonical audit events in DuckDB, with Polars and Arrow views of them.

    ``events`` (table or view) has the columns of :data:`auditlab.schema.EVENTS_SCHEMA`;
    ``quarantine`` has the rejected lines. Every listing is ordered ``timestamp DESC, event_id``.

    Args:
        mapping: the field mapping for loads (default: built in; see :class:`~auditlab.io.mapping.Mapping`).
        settings: limits and knobs.
    """

    def __init__(self, *, mapping: Mapping | None = None, settings: Settings | None = None) -> None:
        self.con: duckdb.DuckDBPyConnection = _connect()
        self.mapping = mapping or Mapping.default()
        self.settings = settings or Settings()
        self.last_report: LoadReport | None = None
        self._create_tables()

    def _create_tables(self) -> None:
        # events is a view over the loads' batch tables, kept as normalised (no copy at commit)
        self._tables: list[str] = ["_events_empty"]
        self.con.execute(f"CREATE TEMP TABLE _events_empty ({duckdb_columns()})")
        self._define_events()
        self.con.execute(f"CREATE TABLE quarantine ({duckdb_columns(QUARANTINE_SCHEMA)})")

    #: More batch tables than this are merged into one after a load (a long UNION ALL plans slowly).
    MAX_TABLES = 64

    def _compact(self) -> None:
        """Merge the batch tables into one (a copy), when a workspace has grown many of them."""
        if len(self._tables) <= self.MAX_TABLES:
            return
        name = f"_events_merged_{len(self._tables)}"
        self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM events")  # noqa: S608 - our names
        old, self._tables = self._tables, ["_events_empty", name]
        self._define_events()
        for table in old[1:]:
            self.con.execute(f'DROP TABLE IF EXISTS "{table}"')

    def _define_events(self) -> None:
        cols = ", ".join(COLUMNS)
        union = " UNION ALL ".join(f'SELECT {cols} FROM "{t}"' for t in self._tables)  # noqa: S608 - our names
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW events AS {union}")

    # -- loading ---------------------------------------------------------------------------
    def add(self, *paths: PathLike, strict: bool = False, progress: bool = False) -> LoadReport:
        """Load more inputs into this workspace, all or nothing.

        Args:
            paths: files, folders, gzip files, Portal export ZIPs.
            strict: raise :class:`InputError` naming the first bad line instead of quarantining.
            progress: show a progress bar on stderr.

        Returns:
            The :class:`LoadReport` (also kept as ``last_report``).
        """
        report = self._ingest(paths, progress=progress)
        try:
            if strict and report.quarantined:
                first = report.quarantine[0]
                raise InputError(first.reason, source=first.source, line=first.line)
            before = list(self._tables)
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(f"INSERT INTO quarantine SELECT * FROM {NEW_QUARANTINE}")  # noqa: S608
                self._tables = [*before, *adopt_new(self.con, f"_events_{len(before)}_")]
                self._define_events()
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")  # the batch tables get their old names back; dropped below
                self._tables = before
                raise
        finally:
            self._drop_new()
        self._compact()
        self.last_report = report
        return report

    @classmethod
    def from_events(
        cls,
        events: pa.Table | pl.DataFrame,
        *,
        mapping: Mapping | None = None,
        settings: Settings | None = None,
    ) -> Workspace:
        """A workspace holding canonical events given as a table (Arrow or Polars).

        Missing optional columns are null; ``event_id``, ``timestamp``, ``action``, ``source``
        and ``source_line`` are required. Useful for tests and for events made elsewhere.

        Examples:
            >>> import polars as pl
            >>> from datetime import datetime, UTC
            >>> ws = Workspace.from_events(pl.DataFrame({"event_id": ["a"], "timestamp": [datetime(2026, 1, 1, tzinfo=UTC)],
            ...     "action": ["user.login"], "source": ["made"], "source_line": [1]}))
            >>> ws.count(), ws.to_polars()["user_email"].to_list()
            (1, [None])
        """
        ws = cls(mapping=mapping, settings=settings)
        table = events if isinstance(events, pa.Table) else events.to_arrow()
        missing = {"event_id", "timestamp", "action", "source", "source_line"} - set(table.column_names)
        if missing:
            raise InputError(f"events lack required columns: {', '.join(sorted(missing))}")
        ws.con.register("_auditlab_given", table)
        try:
            kinds = duckdb_types()
            cols = ", ".join(
                f"CAST({c if c in table.column_names else 'NULL'} AS {kinds[c]}) AS {c}" for c in COLUMNS
            )
            ws.con.execute(f"CREATE TEMP TABLE _events_given AS SELECT {cols} FROM _auditlab_given")  # noqa: S608
        finally:
            ws.con.unregister("_auditlab_given")
        ws._tables.append("_events_given")
        ws._define_events()
        return ws

    def _ingest(self, paths: tuple[PathLike, ...], *, progress: bool) -> LoadReport:
        if not paths:
            raise InputError("no input paths given")
        try:
            return ingest(
                self.con,
                paths,
                existing="events",
                mapping=self.mapping,
                settings=self.settings,
                progress=progress,
            )
        except BaseException:
            self._drop_new()
            raise

    def _drop_new(self) -> None:
        drop_new(self.con)

    # -- access ----------------------------------------------------------------------------
    def sql(self, query: str, params: Any = None) -> duckdb.DuckDBPyRelation:
        """Run DuckDB SQL over ``events`` and ``quarantine``; values go in ``params``.

        Returns a lazy relation: ``.pl()``, ``.to_arrow_table()``, ``.fetchall()``, ``.show()``.

        Examples:
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
        """How many events the workspace holds."""
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

    def __repr__(self) -> str:
        return f"<{type(self).__name__} events={self.count()}>"


def load(
    *paths: PathLike,
    mapping: Mapping | str | None = None,
    settings: Settings | None = None,
    strict: bool = False,
    progress: bool = False,
) -> Workspace:
    """Load audit exports into a new in-memory :class:`Workspace`.

    Args:
        paths: ``.ndjson``/``.jsonl``/``.cef``/``.log`` files (plain or gzip), Portal export ZIPs, folders.
        mapping: a :class:`Mapping`, or a path to a TOML/JSON mapping profile.
        settings: limits (decompression, chunk size).
        strict: raise on the first bad line instead of quarantining it.
        progress: show a progress bar on stderr.

    Returns:
        The workspace; ``ws.last_report`` tells what was loaded, duplicated and quarantined.

    Raises:
        InputError: a path is missing, an archive is corrupt or unsafe, or (``strict``) a line is bad.

    Examples:
        >>> ws = load("data/samples/portal_audit_export.zip")
        >>> r = ws.last_report
        >>> r.lines == r.loaded + r.duplicates + r.quarantined
        True
    """
    if isinstance(mapping, str):
        mapping = Mapping.from_profile(mapping)
    ws = Workspace(mapping=mapping, settings=settings)
    ws.add(*paths, strict=strict, progress=progress)
    return ws
