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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class EventsSource:
    """Where a writer's SQL reads the events: ``SELECT ... FROM <table> WHERE <where> ORDER BY <order>``.

    Attributes:
        con: the connection holding ``table`` (a store's own, memory bounded, for a store).
        table: a table or view of canonical columns (``events``, or a registered Arrow table).
        where: a predicate over it (``TRUE``: every event); its values are in ``params``.
        params: the positional (``?``) parameters of ``where``; they come last in a statement.
        order: the ``ORDER BY`` text, or ``""`` to keep the table's own order.
    """

    con: duckdb.DuckDBPyConnection
    table: str = "events"
    where: str = "TRUE"
    params: tuple[object, ...] = ()
    order: str = SORT_SQL

    def select(self, columns: str, params: Sequence[object] = ()) -> duckdb.DuckDBPyRelation:
        """A lazy relation of ``columns`` (SQL, positional ``?`` parameters ``params``) per event, in order."""
        sql = f"SELECT {columns} FROM {self.table} WHERE {self.where}"  # noqa: S608 - our text; values bound
        if self.order:
            sql += f" ORDER BY {self.order}"
        return self.con.sql(sql, params=[*params, *self.params])

    def span(self) -> tuple[int, Any, Any]:
        """(events, oldest timestamp, newest timestamp) of the selection, in one aggregate."""
        row = self.con.sql(
            f"SELECT count(*), min(timestamp), max(timestamp) FROM {self.table} WHERE {self.where}",  # noqa: S608
            params=list(self.params),
        ).fetchall()[0]
        return int(row[0]), row[1], row[2]


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
            yield EventsSource(con, table="ev", order="")
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
