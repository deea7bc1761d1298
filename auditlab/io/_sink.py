"""Shared plumbing of the writers: the events source, the destination, bulk line writing.

Lines are built by DuckDB SQL and written batch by batch straight from Arrow buffers: one
``write`` per batch of up to 100,000 lines, never one per line. The SQL runs where the events
are (:func:`events_source`): a store's or workspace's own connection for an event set or a query
result, so a store's events stream from Parquet through DuckDB (within its ``memory_limit``) to
the file and are never all held in Python; an Arrow table is registered in a private connection.

Examples:
    >>> import io, pyarrow as pa
    >>> buf = io.BytesIO()
    >>> write_lines(buf, pa.RecordBatchReader.from_batches(
    ...     pa.schema([("l", pa.string())]), [pa.record_batch([pa.array(["a\\n", "b\\n"])], names=["l"])]))
    2
    >>> buf.getvalue()
    b'a\\nb\\n'
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from auditlab.errors import InputError
from auditlab.schema import COLUMNS, EVENTS_SCHEMA, SORT_SQL

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from auditlab._types import PathLike

__all__ = [
    "BATCH_ROWS",
    "WINDOW_ROWS",
    "EventsSource",
    "SupportsArrow",
    "connect",
    "events_source",
    "events_table",
    "open_sink",
    "write_lines",
    "write_text_atomic",
]

#: Lines per Arrow batch written at once.
BATCH_ROWS = 100_000


class SupportsArrow(Protocol):
    """Anything with ``to_arrow()``: a Workspace, a Store, a query result."""

    def to_arrow(self) -> pa.Table: ...


_REQUIRED = ("event_id", "timestamp", "action")


def events_table(events: pa.Table | SupportsArrow) -> pa.Table:
    """The events as an Arrow table with every canonical column (missing optional ones as nulls).

    Raises:
        InputError: ``events`` is not a table (or has no ``to_arrow()``) or lacks a required column.
    """
    import pyarrow as pa

    table = events if isinstance(events, pa.Table) else getattr(events, "to_arrow", lambda: None)()
    if not isinstance(table, pa.Table):
        raise InputError(
            f"cannot write {type(events).__name__}: need a pyarrow Table or an object with to_arrow()"
        )
    missing = [c for c in _REQUIRED if c not in table.column_names]
    if missing:
        raise InputError(f"events lack column(s) {', '.join(missing)}")
    for field in EVENTS_SCHEMA:
        if field.name not in table.column_names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    return table.select(list(COLUMNS))


def connect(table: pa.Table) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB session in UTC with ``table`` registered as ``ev``."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("ev", table)
    return con


#: Events per sorted statement of an ordered source: the most a writer's sort holds at once.
WINDOW_ROWS = 200_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class EventsSource:
    """Where a writer's SQL reads the events: ``SELECT ... FROM <table> WHERE <where>``.

    An ordered source is read newest first (``ORDER BY timestamp DESC, event_id``) one time
    window at a time, each window of at most :data:`WINDOW_ROWS` events (unless more share one
    timestamp) sorted by its own statement: a store's Parquet files are pruned to the window's
    row groups, and no sort ever holds the whole selection, so memory does not grow with it.

    Attributes:
        con: the connection holding ``table`` (a store's own, memory bounded, for a store).
        table: a table or view of canonical columns (``events``, or a registered Arrow table).
        where: a predicate over it (``TRUE``: every event); its values are in ``params``.
        params: the positional (``?``) parameters of ``where``.
        ordered: newest first; else the table's own order, in one statement.
    """

    con: duckdb.DuckDBPyConnection
    table: str = "events"
    where: str = "TRUE"
    params: tuple[object, ...] = ()
    ordered: bool = True

    def select(
        self, columns: str, params: Sequence[object] = (), *, window: tuple[datetime, datetime] | None = None
    ) -> duckdb.DuckDBPyRelation:
        """A lazy relation of ``columns`` (SQL with positional ``?`` parameters ``params``) per event.

        ``window`` (``[start, end)``) narrows it to a time range; an ordered source sorts it.
        """
        sql = f"SELECT {columns} FROM {self.table} WHERE ({self.where})"  # noqa: S608 - our text; values bound
        bounds: list[object] = []
        if window is not None:
            sql += " AND timestamp >= ? AND timestamp < ?"
            bounds = list(window)
        if self.ordered:
            sql += f" ORDER BY {SORT_SQL}"
        return self.con.sql(sql, params=[*params, *self.params, *bounds])

    @contextlib.contextmanager
    def reader(self, columns: str, params: Sequence[object] = ()) -> Iterator[pa.RecordBatchReader]:
        """Batches of :data:`BATCH_ROWS` rows of ``columns`` per event, in order, window by window.

        Read them inside the block: an unread DuckDB result blocks its connection (a store's,
        shared), so the block's end releases it, also after an error.
        """
        import pyarrow as pa

        windows = self.windows() if self.ordered else [None]
        first = self.select(columns, params, window=windows[0]).to_arrow_reader(BATCH_ROWS)

        def batches() -> Generator[pa.RecordBatch, None, None]:
            current = first
            try:
                yield from current  # the next statement runs only once this one's result is read
                for window in windows[1:]:
                    current = self.select(columns, params, window=window).to_arrow_reader(BATCH_ROWS)
                    yield from current
            finally:
                current.close()

        stream = batches()
        try:
            yield pa.RecordBatchReader.from_batches(first.schema, stream)
        finally:
            stream.close()
            first.close()

    def _stats(self) -> tuple[int, int, int | None, int | None]:
        """(events, events with a timestamp, oldest and newest in epoch µs) of the selection."""
        total, timed, lo, hi = self.con.sql(
            f"SELECT count(*), count(timestamp), epoch_us(min(timestamp)), epoch_us(max(timestamp)) "  # noqa: S608
            f"FROM {self.table} WHERE ({self.where})",
            params=list(self.params),
        ).fetchall()[0]
        return int(total), int(timed), lo, hi

    def span(self) -> tuple[int, datetime | None, datetime | None]:
        """(events, oldest timestamp, newest timestamp) of the selection, in one aggregate."""
        total, _, lo, hi = self._stats()
        return total, None if lo is None else _at(lo), None if hi is None else _at(hi)

    def windows(self) -> list[tuple[datetime, datetime] | None]:
        """Contiguous ``[start, end)`` time windows, newest first, of at most :data:`WINDOW_ROWS` events.

        ``[None]`` (one statement) when the selection is that small or has events without a timestamp.
        """
        total, timed, lo, hi = self._stats()
        if total <= WINDOW_ROWS or timed != total or lo is None or hi is None:
            return [None]
        starts: list[int] = []  # each window's first microsecond, newest window first
        size = 0
        for start, count in reversed(self._buckets(int(lo), int(hi) + 1, int(total))):
            if size and size + count > WINDOW_ROWS:
                size = 0
            if not size:
                starts.append(start)
            starts[-1], size = start, size + count
        ends = [int(hi) + 1, *starts[:-1]]
        return [(_at(a), _at(b)) for a, b in zip(starts, ends, strict=True)]

    def _buckets(self, lo: int, hi: int, events: int) -> list[tuple[int, int]]:
        """(first microsecond, events) of non-empty buckets of ``[lo, hi)``, oldest first.

        About four buckets per window; a bucket still holding more than a window is split again.
        """
        width = max(1, -(-(hi - lo) * WINDOW_ROWS // (events * 4)))
        rows = self.con.sql(
            f"SELECT (epoch_us(timestamp) - ?) // ? AS b, count(*) FROM {self.table} "  # noqa: S608
            f"WHERE ({self.where}) AND timestamp >= ? AND timestamp < ? GROUP BY b ORDER BY b",
            params=[lo, width, *self.params, _at(lo), _at(hi)],
        ).fetchall()
        out: list[tuple[int, int]] = []
        for b, count in rows:
            start = lo + int(b) * width
            if count > WINDOW_ROWS and width > 1:
                out += self._buckets(start, min(start + width, hi), int(count))
            else:
                out.append((start, int(count)))
        return out


@contextlib.contextmanager
def events_source(events: pa.Table | SupportsArrow | EventsSource) -> Iterator[EventsSource]:
    """The events to write, as an :class:`EventsSource` for the length of the block.

    An event set (Workspace, Store) or a query result is read where it lives, newest first
    (``timestamp DESC, event_id``), through its own connection: nothing is copied into Python.
    A pyarrow Table (or another object's ``to_arrow()``) is registered, in its own order, in a
    private connection (:func:`connect`) closed at the end. An :class:`EventsSource` is passed through.

    Raises:
        InputError: see :func:`events_table`.
    """
    from auditlab.store.events import EventSet
    from auditlab.store.result import QueryResult

    if isinstance(events, EventsSource):
        yield events
    elif isinstance(events, QueryResult):
        where, params = events.where()
        yield EventsSource(events.con, where=where, params=tuple(params))
    elif isinstance(events, EventSet):
        yield EventsSource(events.con)
    else:
        con = connect(events_table(events))
        try:
            yield EventsSource(con, table="ev", ordered=False)
        finally:
            con.close()


@contextlib.contextmanager
def open_sink(dest: PathLike | IO[bytes], *, overwrite: bool = False) -> Iterator[tuple[IO[bytes], Path]]:
    """A binary stream to write to, and the path it stands for.

    A path is written through a temporary file in the same folder and renamed into place only
    when the block ends without error, so a failed write never leaves half a file. A name
    ending in ``.gz`` is gzip-compressed. A file object is written as it is and left open.

    Raises:
        InputError: the path exists and ``overwrite`` is false.
    """
    if not isinstance(dest, (str, os.PathLike)):
        yield dest, Path(str(getattr(dest, "name", "-")))
        return
    path = Path(dest)
    if path.exists() and not overwrite:
        raise InputError(f"{path} exists (pass overwrite=True to replace it)", source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            if path.suffix.lower() == ".gz":
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                    yield gz, path  # type: ignore[misc]
            else:
                yield raw, path
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: PathLike, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` as UTF-8 through :func:`open_sink`: all or nothing, never half a file.

    The one way auditlab writes a text file (reports, rules). Returns the path written.

    Raises:
        InputError: the path exists and ``overwrite`` is false.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "sub" / "a.txt"
        >>> write_text_atomic(p, "hi").read_text(), write_text_atomic(p, "ho", overwrite=True).read_text()
        ('hi', 'ho')
        >>> write_text_atomic(p, "x")
        Traceback (most recent call last):
        ...
        auditlab.errors.InputError: ... exists (pass overwrite=True to replace it)
    """
    with open_sink(path, overwrite=overwrite) as (fh, target):
        fh.write(text.encode("utf-8"))
    return target


def write_lines(fh: IO[bytes] | Any, reader: pa.RecordBatchReader) -> int:
    """Write the first column of every batch (strings that end in ``\\n``) as bytes; count them."""
    import numpy as np
    import pyarrow as pa

    count = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        col = batch.column(0).cast(pa.large_string())
        offsets = np.frombuffer(col.buffers()[1], dtype=np.int64)
        start, end = int(offsets[col.offset]), int(offsets[col.offset + len(col)])
        data = col.buffers()[2]
        if data is not None and end > start:
            fh.write(memoryview(data)[start:end])
        count += batch.num_rows
    return count
