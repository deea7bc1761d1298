"""The in-memory workspace: a DuckDB database whose ``events`` table holds canonical events.

Examples:
    >>> ws = load("data/samples/portal_audit_export.zip")
    >>> ws.count() == ws.last_report.loaded
    True
    >>> ws.sql("SELECT count(DISTINCT action) FROM events").fetchall()[0][0]
    85
    >>> ws.to_polars().columns[:3]
    ['event_id', 'timestamp', 'action']
    >>> Workspace.from_events(ws.to_arrow()).count() == ws.count()
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from auditlab.config import Settings
from auditlab.errors import InputError
from auditlab.io.mapping import Mapping
from auditlab.schema import COLUMNS, QUARANTINE_SCHEMA, duckdb_columns, duckdb_types
from auditlab.store.events import EventSet, connect
from auditlab.store.ingest import NEW_QUARANTINE, adopt_new, drop_new, ingest
from auditlab.store.report import LoadReport

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from auditlab._types import PathLike

__all__ = ["MemoryBackend", "Workspace", "load"]


class MemoryBackend:
    """Events in an in-memory DuckDB: ``events`` is a view over the loads' batch tables, kept as
    normalised (a load copies the text once), merged into one table past :attr:`MAX_TABLES`."""

    #: More batch tables than this are merged into one after a load (a long UNION ALL plans slowly).
    MAX_TABLES = 64

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.con: duckdb.DuckDBPyConnection = connect(settings, limit=False)
        self._tables: list[str] = ["_events_empty"]
        self.con.execute(f"CREATE TEMP TABLE _events_empty ({duckdb_columns()})")
        self._define_events()
        self.con.execute(f"CREATE TABLE quarantine ({duckdb_columns(QUARANTINE_SCHEMA)})")

    def _compact(self) -> None:
        """Merge the batch tables into one (a copy), when there are many of them."""
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

    def add(
        self, paths: tuple[PathLike, ...], *, mapping: Mapping, strict: bool, progress: bool
    ) -> LoadReport:
        """One load, all or nothing (see :meth:`Workspace.add`)."""
        if not paths:
            raise InputError("no input paths given")
        try:
            report = ingest(
                self.con, paths, existing="events", mapping=mapping, settings=self.settings, progress=progress
            )
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
            drop_new(self.con)
        self._compact()
        return report

    def adopt(self, table: pa.Table) -> None:
        """Add canonical events given as an Arrow table (see :meth:`Workspace.from_events`)."""
        missing = {"event_id", "timestamp", "action", "source", "source_line"} - set(table.column_names)
        if missing:
            raise InputError(f"events lack required columns: {', '.join(sorted(missing))}")
        name = f"_events_given_{len(self._tables)}"
        self.con.register("_auditlab_given", table)
        try:
            kinds = duckdb_types()
            cols = ", ".join(
                f"CAST({c if c in table.column_names else 'NULL'} AS {kinds[c]}) AS {c}" for c in COLUMNS
            )
            self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT {cols} FROM _auditlab_given")  # noqa: S608
        finally:
            self.con.unregister("_auditlab_given")
        self._tables.append(name)
        self._define_events()


class Workspace(EventSet):
    """Canonical audit events in memory (DuckDB), with Polars and Arrow views of them.

    The read API (``sql``, ``count``, ``query``, ``to_polars``, ...) is :class:`EventSet`'s;
    the events live in a :class:`MemoryBackend`. ``events`` (table or view) has the columns of
    :data:`auditlab.schema.EVENTS_SCHEMA`; ``quarantine`` has the rejected lines.

    Args:
        mapping: the field mapping for loads (default: built in; see :class:`~auditlab.io.mapping.Mapping`).
        settings: limits and knobs.
    """

    def __init__(self, *, mapping: Mapping | None = None, settings: Settings | None = None) -> None:
        self.mapping = mapping or Mapping.default()
        self.settings = settings or Settings()
        self.last_report: LoadReport | None = None
        self._backend: MemoryBackend = MemoryBackend(self.settings)

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
        report = self._backend.add(paths, mapping=self.mapping, strict=strict, progress=progress)
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
        ws._backend.adopt(events if isinstance(events, pa.Table) else events.to_arrow())
        return ws

    def __repr__(self) -> str:
        return f"<Workspace events={self.count()}>"


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
