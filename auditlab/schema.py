"""The canonical event: one Arrow schema that the DuckDB table and Polars frames follow.

Column names are the Portal API's words where the API has one (DESIGN §3).

Examples:
    >>> COLUMNS[:3]
    ('event_id', 'timestamp', 'action')
    >>> EVENTS_SCHEMA.field("timestamp").type
    TimestampType(timestamp[us, tz=UTC])
    >>> SORT_SQL
    'timestamp DESC, event_id'
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "COLUMNS",
    "EVENTS_SCHEMA",
    "JSON_COLUMNS",
    "QUARANTINE_SCHEMA",
    "SORT_SQL",
    "STRING_FIELDS",
    "duckdb_columns",
    "duckdb_types",
]

_TS = pa.timestamp("us", tz="UTC")

#: The canonical columns, in order, with their Arrow types.
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("timestamp", _TS, nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("outcome", pa.string()),
        pa.field("user_email", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("auth_context", pa.string()),
        pa.field("ip_address", pa.string()),
        pa.field("resource_type", pa.string()),
        pa.field("resource_id", pa.string()),
        pa.field("resource_name", pa.string()),
        pa.field("group_id", pa.string()),
        pa.field("group_name", pa.string()),
        pa.field("project_name", pa.string()),
        pa.field("package_name", pa.string()),
        pa.field("version_name", pa.string()),
        pa.field("request_id", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("details", pa.string()),  # JSON text
        pa.field("raw", pa.string()),  # the input record, verbatim
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
    ]
)

COLUMNS: tuple[str, ...] = tuple(EVENTS_SCHEMA.names)

#: Columns holding JSON text (DuckDB type JSON).
JSON_COLUMNS: frozenset[str] = frozenset({"details"})

#: The plain string columns that a mapping fills from input fields.
STRING_FIELDS: tuple[str, ...] = tuple(
    f.name for f in EVENTS_SCHEMA if pa.types.is_string(f.type) and f.name not in {"details", "raw", "source"}
)

#: Every listing is ordered this way, so it is deterministic.
SORT_SQL = "timestamp DESC, event_id"

#: Lines that could not be loaded: where they came from, why, and the text (capped).
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("text", pa.string()),
    ]
)

_DUCK = {
    pa.string(): "VARCHAR",
    _TS: "TIMESTAMPTZ",
    pa.int64(): "BIGINT",
}


def duckdb_types(schema: pa.Schema = EVENTS_SCHEMA) -> dict[str, str]:
    """Column name -> DuckDB type, in order.

    Examples:
        >>> duckdb_types()["details"], duckdb_types()["source_line"]
        ('JSON', 'BIGINT')
    """
    return {f.name: "JSON" if f.name in JSON_COLUMNS else _DUCK[f.type] for f in schema}


def duckdb_columns(schema: pa.Schema = EVENTS_SCHEMA, *, constraints: bool = True) -> str:
    """The column list of a DuckDB ``CREATE TABLE`` for ``schema`` (``constraints``: NOT NULLs).

    Examples:
        >>> duckdb_columns().split(", ")[1]
        'timestamp TIMESTAMPTZ NOT NULL'
    """
    kinds = duckdb_types(schema)
    return ", ".join(
        f"{f.name} {kinds[f.name]}" + ("" if f.nullable or not constraints else " NOT NULL") for f in schema
    )
