"""NDJSON: write events as one JSON object per line.

Where an event's ``raw`` is a JSON object (it came from NDJSON), that original record is written
back unchanged, so every Portal field round-trips exactly. Otherwise (e.g. the event came from
CEF) a record in the Portal's shape is built from the canonical columns::

    {"id", "created_at", "action", "outcome": "successful"|"unsuccessful", "error_message",
     "auth_context": "PORTAL"|"API", "user": {"id", "email"}, "ip_address",
     "target": {"type", "id", "name"}, "group": {"id", "name"}|null, "project": {"name"}|null,
     "package": {"name"}|null, "version": {"name"}|null, "request_id", "details": {...}|null}

``created_at`` is ISO 8601 UTC with ``Z`` and milliseconds, or microseconds when the timestamp
has them (so reading it back gives the same instant). Lines are built by DuckDB where the events
live (a store's lines stream from its Parquet files, in bounded memory) and written in bulk.

Examples:
    >>> import io, datetime as dt, pyarrow as pa
    >>> t = pa.table({"event_id": ["e1"], "action": ["user.login"], "outcome": ["failure"],
    ...     "timestamp": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=dt.timezone.utc)],
    ...                           pa.timestamp("us", tz="UTC"))})
    >>> buf = io.BytesIO()
    >>> _ = write_ndjson(t, buf)
    >>> buf.getvalue().decode()[:100]
    '{"id":"e1","created_at":"2026-01-02T03:04:05.123Z","action":"user.login","outcome":"unsuccessful","e'
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING

from auditlab.io._sink import events_source, open_sink, write_lines

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pyarrow as pa

    from auditlab._types import PathLike
    from auditlab.io._sink import EventsSource, SupportsArrow

__all__ = ["ISO_SQL", "NDJSON_LINE_SQL", "ndjson_lines", "write_ndjson"]

#: ISO 8601 UTC text of ``timestamp``: milliseconds, or microseconds when there are any.
ISO_SQL = (
    "CASE WHEN microsecond(timestamp) % 1000 = 0 "
    "THEN strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%gZ') "
    "ELSE strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%fZ') END"
)

#: The NDJSON line (with its ``\n``) of an event: an SQL expression over the canonical columns.
NDJSON_LINE_SQL = f"""
CASE
  WHEN (CASE WHEN json_valid(raw) THEN json_type(raw) END) = 'OBJECT'
    THEN CASE WHEN strpos(raw, chr(10)) > 0 OR strpos(raw, chr(13)) > 0 THEN json(raw)::VARCHAR ELSE raw END
  ELSE json_object(
    'id', event_id,
    'created_at', {ISO_SQL},
    'action', action,
    'outcome', CASE outcome WHEN 'success' THEN 'successful' WHEN 'failure' THEN 'unsuccessful' ELSE outcome END,
    'error_message', error_message,
    'auth_context', CASE auth_context WHEN 'portal' THEN 'PORTAL' WHEN 'api' THEN 'API' ELSE auth_context END,
    'user', json_object('id', user_id, 'email', user_email),
    'ip_address', ip_address,
    'target', json_object('type', resource_type, 'id', resource_id, 'name', resource_name),
    'group', CASE WHEN group_id IS NULL AND group_name IS NULL THEN NULL
                  ELSE json_object('id', group_id, 'name', group_name) END,
    'project', CASE WHEN project_name IS NULL THEN NULL ELSE json_object('name', project_name) END,
    'package', CASE WHEN package_name IS NULL THEN NULL ELSE json_object('name', package_name) END,
    'version', CASE WHEN version_name IS NULL THEN NULL ELSE json_object('name', version_name) END,
    'request_id', request_id,
    'details', CASE WHEN details IS NULL THEN NULL
                    WHEN json_valid(details) THEN CAST(details AS JSON)
                    ELSE to_json(details) END
  )::VARCHAR
END || chr(10)
"""


def ndjson_lines(source: EventsSource) -> AbstractContextManager[pa.RecordBatchReader]:
    """Batches of one column ``line``, the NDJSON line of each event of ``source`` in order, for a ``with`` block."""
    return source.reader(f"{NDJSON_LINE_SQL} AS line")


def write_ndjson(
    events: pa.Table | SupportsArrow, dest: PathLike | IO[bytes], *, overwrite: bool = False
) -> Path:
    """Write events as NDJSON, one object per line, in the given order.

    Args:
        events: a Workspace, a Store or a query result (read through its own connection, newest
            first: a store's events stream in bounded memory), a table following
            :data:`auditlab.schema.EVENTS_SCHEMA` (missing optional columns count as null; its own
            order), or anything else with ``to_arrow()``.
        dest: a path (``.gz``: gzip) or a binary file object (left open).
        overwrite: replace an existing file.

    Returns:
        The path written (for a file object, its ``name`` or ``-``).

    Raises:
        InputError: ``dest`` exists and ``overwrite`` is false, or ``events`` lacks
            ``event_id``/``timestamp``/``action``.
    """
    with (
        events_source(events) as source,
        open_sink(dest, overwrite=overwrite) as (fh, path),
        ndjson_lines(source) as lines,
    ):
        write_lines(fh, lines)
    return path
