"""Shared plumbing of the writers: the events table, the destination, bulk line writing.

Lines are built by DuckDB SQL and written batch by batch straight from Arrow buffers: one
``write`` per batch of up to 100,000 lines, never one per line.

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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from auditlab.errors import InputError
from auditlab.schema import COLUMNS, EVENTS_SCHEMA

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from auditlab._types import PathLike

__all__ = [
    "BATCH_ROWS",
    "SupportsArrow",
    "connect",
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
