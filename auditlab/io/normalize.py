"""Normalise staged records into canonical events, in DuckDB, a batch at a time.

A *stage* is a DuckDB table of one batch of one source:
``source_line BIGINT, raw VARCHAR, record VARCHAR (a JSON object text), error VARCHAR``.
NDJSON lines stage as themselves; CEF lines stage as the JSON object the CEF reader makes.

:func:`normalize_stage` then (1) discovers every key path in the batch (all rows, no sampling),
(2) resolves them to canonical columns through the :class:`~auditlab.io.mapping.Mapping`,
(3) extracts all of them with one ``json_extract_string`` per row (one parse), and
(4) parses timestamps, normalises outcome and auth context, and fills ``event_id``.
Rows with an ``error``, no usable timestamp or no action go to quarantine with a reason.
Key names and values from the input reach SQL only as bound parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditlab.catalog import AUTH_CONTEXT_SPELLINGS, OUTCOME_SPELLINGS
from auditlab.io.mapping import KeyPath, Mapping, json_pointer
from auditlab.schema import COLUMNS, STRING_FIELDS

if TYPE_CHECKING:
    import duckdb

__all__ = ["MAX_DEPTH", "discover_paths", "install_macros", "normalize_stage", "stage_json_lines"]

#: How deep nested objects are flattened into key paths.
MAX_DEPTH = 4

_MACROS = r"""
CREATE OR REPLACE TEMP MACRO auditlab_ts(s) AS (
  CASE
    WHEN s IS NULL THEN NULL
    WHEN regexp_full_match(trim(s), '[+-]?[0-9]{1,19}([.][0-9]+)?') THEN
      CASE
        WHEN abs(TRY_CAST(trim(s) AS DOUBLE)) < 1e11 THEN
          TRY(make_timestamp(CAST(round(CAST(trim(s) AS DECIMAL(38, 9)) * 1000000) AS BIGINT)))
        WHEN abs(TRY_CAST(trim(s) AS DOUBLE)) < 1e14 THEN
          TRY(make_timestamp(CAST(round(CAST(trim(s) AS DECIMAL(38, 9)) * 1000) AS BIGINT)))
        ELSE TRY(make_timestamp(CAST(round(CAST(trim(s) AS DECIMAL(38, 9))) AS BIGINT)))
      END::TIMESTAMPTZ
    ELSE coalesce(
      TRY_CAST(trim(s) AS TIMESTAMPTZ),
      try_strptime(trim(s), ['%b %d %Y %H:%M:%S.%g', '%b %d %Y %H:%M:%S',
                             '%b %d %Y %H:%M:%S.%g %Z', '%b %d %Y %H:%M:%S %Z'])
    )
  END
)
"""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the SQL helpers normalisation uses, and pin the session to UTC."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(_MACROS)


def stage_json_lines(con: duckdb.DuckDBPyConnection, lines: str, stage: str) -> None:
    """Stage NDJSON lines (table ``lines``: source_line, text, invalid) as records.

    Blank lines (empty after removing CR/LF) are dropped here: they are not events.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {stage} AS
        SELECT source_line,
               coalesce(text, invalid) AS raw,
               CASE WHEN error IS NULL THEN text END AS record,
               error
        FROM (
          SELECT source_line, text, invalid,
                 CASE
                   WHEN text IS NULL THEN 'invalid UTF-8'
                   WHEN NOT json_valid(text) THEN 'not valid JSON'
                   WHEN json_type(text) <> 'OBJECT' THEN 'not a JSON object (' || lower(json_type(text)) || ')'
                 END AS error
          FROM {lines}
          WHERE text IS NULL OR text <> ''
        )
        """  # noqa: S608 - table names are ours, never from input
    )


def discover_paths(con: duckdb.DuckDBPyConnection, stage: str, mapping: Mapping) -> tuple[list[KeyPath], set[KeyPath]]:
    """Every key path present in the stage's valid records, and those that hold objects.

    Objects are descended into (up to :data:`MAX_DEPTH`) unless the key maps to ``details``,
    which keeps its object whole.
    """
    valid = f"FROM {stage} WHERE error IS NULL"
    top = [(r[0],) for r in con.execute(f"SELECT DISTINCT unnest(json_keys(record)) {valid}").fetchall()]
    paths: list[KeyPath] = list(top)
    objects: set[KeyPath] = set()
    frontier = [p for p in top if mapping.column_for(p) != "details"]
    depth = 1
    while frontier and depth < MAX_DEPTH:
        pointers = [json_pointer(p) for p in frontier]
        rows = con.execute(
            f"""SELECT DISTINCT i, k FROM (
                  SELECT unnest(range(1, len($p) + 1)) AS i, unnest(json_keys(record, $p)) AS ks {valid}
                ), unnest(ks) AS u(k)""",  # noqa: S608
            {"p": pointers},
        ).fetchall()
        children: list[KeyPath] = []
        for i, key in sorted(rows):
            parent = frontier[i - 1]
            objects.add(parent)
            children.append((*parent, key))
        paths.extend(children)
        frontier = [c for c in children if mapping.column_for(c) != "details"]
        depth += 1
    return paths, objects


def _pick(v: str, indexes: list[int]) -> str:
    if not indexes:
        return "NULL"
    items = [f"{v}[{i}]" for i in indexes]
    return items[0] if len(items) == 1 else f"coalesce({', '.join(items)})"


def normalize_stage(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    *,
    source: str,
    ordinal: int,
    mapping: Mapping,
    events: str,
    quarantine: str,
    text_chars: int,
) -> None:
    """Append the stage's events to table ``events`` and its rejects to ``quarantine``.

    ``events`` has the canonical columns plus ``ordinal`` (the source's rank in the load, for
    first-seen-wins dedupe); ``quarantine`` has source, source_line, reason, text, ordinal.
    """
    paths, objects = discover_paths(con, stage, mapping)
    resolved = mapping.resolve(paths)
    scalar_ptrs: list[str] = []
    index: dict[str, list[int]] = {}
    for column in ("timestamp", *STRING_FIELDS):
        for path in resolved.get(column, []):
            if path in objects:
                continue  # an object cannot fill a scalar column; it stays in raw
            scalar_ptrs.append(json_pointer(path))
            index.setdefault(column, []).append(len(scalar_ptrs))
    detail_ptrs = [json_pointer(p) for p in resolved.get("details", [])]
    detail_idx = list(range(1, len(detail_ptrs) + 1))

    v_expr = "json_extract_string(record, $sp)" if scalar_ptrs else "NULL::VARCHAR[]"
    d_expr = "json_extract(record, $dp)" if detail_ptrs else "NULL::JSON[]"
    picks = {c: _pick("v", index.get(c, [])) for c in ("timestamp", *STRING_FIELDS)}
    details_pick = _pick("d", detail_idx)
    params: dict[str, object] = {
        "ok": list(OUTCOME_SPELLINGS),
        "ov": list(OUTCOME_SPELLINGS.values()),
        "ak": list(AUTH_CONTEXT_SPELLINGS),
        "av": list(AUTH_CONTEXT_SPELLINGS.values()),
    }
    if scalar_ptrs:
        params["sp"] = scalar_ptrs
    if detail_ptrs:
        params["dp"] = detail_ptrs
    string_cols = ",\n".join(
        {
            "event_id": f"coalesce({picks['event_id']}, 'md5:' || md5(raw))",
            "outcome": f"coalesce($ov[list_position($ok, lower(trim({picks['outcome']})))], {picks['outcome']})",
            "auth_context": (
                f"coalesce($av[list_position($ak, lower(trim({picks['auth_context']})))], {picks['auth_context']})"
            ),
        }.get(c, picks[c])
        + f" AS {c}"
        for c in STRING_FIELDS
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _auditlab_norm AS
        WITH x AS (
          SELECT source_line, raw, error, {v_expr} AS v, {d_expr} AS d
          FROM {stage}
        ), y AS (
          SELECT source_line, raw, error, {picks['timestamp']} AS ts_text,
                 auditlab_ts({picks['timestamp']}) AS ts,
                 {string_cols},
                 CASE WHEN json_type({details_pick}) = 'VARCHAR'
                           AND json_valid({details_pick} ->> '$')
                           AND json_type({details_pick} ->> '$') IN ('OBJECT', 'ARRAY')
                      THEN CAST({details_pick} ->> '$' AS JSON)
                      ELSE {details_pick} END AS details
          FROM x
        )
        SELECT *,
          CASE
            WHEN error IS NOT NULL THEN error
            WHEN ts_text IS NULL THEN 'no timestamp'
            WHEN ts IS NULL THEN 'unusable timestamp: ' || left(ts_text, 80)
            WHEN action IS NULL OR trim(action) = '' THEN 'no action'
          END AS reason
        FROM y
        """,  # noqa: S608 - identifiers and indexes are ours; input reaches SQL only as parameters
        params,
    )
    select_cols = ", ".join(
        {"timestamp": "ts", "source": "$source", "source_line": "source_line"}.get(c, c) for c in COLUMNS
    )
    con.execute(
        f"INSERT INTO {events} SELECT {select_cols}, {int(ordinal)} FROM _auditlab_norm WHERE reason IS NULL",  # noqa: S608
        {"source": source},
    )
    con.execute(
        f"INSERT INTO {quarantine} SELECT $source, source_line, reason, left(raw, {int(text_chars)}), "  # noqa: S608
        f"{int(ordinal)} FROM _auditlab_norm WHERE reason IS NOT NULL",
        {"source": source},
    )
