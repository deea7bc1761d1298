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

from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditlab.catalog import AUTH_CONTEXT_SPELLINGS, OUTCOME_SPELLINGS
from auditlab.io.mapping import KeyPath, Mapping, json_pointer
from auditlab.schema import STRING_FIELDS, duckdb_types

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "MAX_DEPTH",
    "Discovery",
    "discover_paths",
    "install_macros",
    "normalize_stage",
    "sample_objects",
    "stage_json_lines",
]

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


#: How many records the first, recursive discovery pass looks at.
SAMPLE_ROWS = 2000


def _children(
    con: duckdb.DuckDBPyConnection, source: str, parents: list[KeyPath], where: str = "true", params: dict[str, object] | None = None
) -> list[tuple[KeyPath, str]]:
    """(parent, child key) for every key found under each parent path, one parse per row."""
    if not parents:
        return []
    rows = con.execute(
        f"""SELECT DISTINCT i, k FROM (
              SELECT unnest(range(1, len($p) + 1)) AS i, unnest(json_keys(record, $p)) AS ks
              FROM {source} WHERE record IS NOT NULL AND {where}
            ), unnest(ks) AS u(k)""",  # noqa: S608 - names are ours
        {"p": [json_pointer(p) for p in parents], **(params or {})},
    ).fetchall()
    return [(parents[i - 1], k) for i, k in sorted(rows) if k is not None]


def _descend(
    con: duckdb.DuckDBPyConnection,
    source: str,
    mapping: Mapping,
    frontier: list[KeyPath],
    *,
    where: str = "true",
    params: dict[str, object] | None = None,
) -> tuple[list[KeyPath], set[KeyPath]]:
    """Walk down from ``frontier`` (paths that may hold objects): the paths found, and the objects."""
    paths: list[KeyPath] = []
    objects: set[KeyPath] = set()
    frontier = [p for p in frontier if len(p) < MAX_DEPTH and mapping.column_for(p) != "details"]
    while frontier:
        found = _children(con, source, frontier, where, params)
        objects.update(parent for parent, _ in found)
        children = [(*parent, key) for parent, key in found]
        paths.extend(children)
        frontier = [c for c in children if len(c) < MAX_DEPTH and mapping.column_for(c) != "details"]
    return paths, objects


def sample_objects(con: duckdb.DuckDBPyConnection, lines: str, mapping: Mapping) -> tuple[list[KeyPath], set[KeyPath]]:
    """Paths and object paths of the first :data:`SAMPLE_ROWS` JSON objects among ``lines``.

    Only a head start: :func:`discover_paths` then reads the keys of *every* record.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _auditlab_sample AS
            SELECT text AS record FROM {lines}
            WHERE text IS NOT NULL AND try(json_type(text)) = 'OBJECT' LIMIT {SAMPLE_ROWS}"""  # noqa: S608
    )
    paths, objects = _descend(con, "_auditlab_sample", mapping, [()])
    con.execute("DROP TABLE _auditlab_sample")
    objects.discard(())
    return paths, objects


def stage_json_lines(con: duckdb.DuckDBPyConnection, lines: str, stage: str, mapping: Mapping) -> Discovery:
    """Stage NDJSON lines (table ``lines``: source_line, text, invalid) as records.

    One JSON parse per line both validates it and lists its keys (top level, and under each
    object path the sample found), kept in the stage's ``keys`` column for discovery.
    Blank lines (empty after removing CR/LF) are dropped here: they are not events.
    Makes the table ``{stage}_rows`` and the view ``{stage}`` (source_line, raw, record, error, keys).
    """
    sample_paths, sample_objs = sample_objects(con, lines, mapping)
    parents: list[KeyPath] = [(), *sorted(sample_objs)]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {stage}_rows AS
        SELECT source_line,
               coalesce(text, invalid) AS raw,
               error,
               CASE WHEN error IS NULL THEN keys END AS keys
        FROM (
          SELECT source_line, text, invalid, keys,
                 CASE
                   WHEN text IS NULL THEN 'invalid UTF-8'
                   WHEN keys IS NULL THEN 'not valid JSON'
                   WHEN left(ltrim(text), 1) <> '{{' THEN 'not a JSON object (' || lower(json_type(text)) || ')'
                 END AS error
          FROM (SELECT *, try(json_keys(text, $p)) AS keys FROM {lines} WHERE text IS NULL OR text <> '')
        )
        """,  # noqa: S608 - table names are ours, never from input
        {"p": [json_pointer(p) for p in parents]},
    )
    # the record is the raw line itself, where it is a JSON object: no second copy of the text
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {stage} AS "  # noqa: S608
        f"SELECT source_line, raw, CASE WHEN error IS NULL THEN raw END AS record, error, keys FROM {stage}_rows"
    )
    return Discovery(parents, set(sample_paths), sample_objs)


@dataclass(frozen=True)
class Discovery:
    """What a stage's ``keys`` column lists: the keys under each of ``parents`` (``()`` is the top)."""

    parents: list[KeyPath]
    known_paths: set[KeyPath]
    known_objects: set[KeyPath]

    @classmethod
    def flat(cls) -> Discovery:
        """For flat records (CEF): ``keys`` lists the top-level keys only."""
        return cls([()], set(), set())


def discover_paths(
    con: duckdb.DuckDBPyConnection, stage: str, mapping: Mapping, discovery: Discovery
) -> tuple[list[KeyPath], set[KeyPath]]:
    """Every key path in the stage's valid records, and those that hold objects. No sampling:
    the keys of every record are read; paths the head-start sample did not know are checked
    for nested objects on just the rows that hold them.

    Objects are descended into (up to :data:`MAX_DEPTH`) unless the key maps to ``details``,
    which keeps its object whole.
    """
    rows = con.execute(
        f"""SELECT DISTINCT i, k FROM (
              SELECT unnest(range(1, len(keys) + 1)) AS i, unnest(keys) AS ks FROM {stage} WHERE keys IS NOT NULL
            ), unnest(ks) AS u(k)"""  # noqa: S608
    ).fetchall()
    found = [(*discovery.parents[i - 1], k) for i, k in sorted(rows) if k is not None]
    objects = {discovery.parents[i - 1] for i, _ in rows} - {()}
    objects |= discovery.known_objects & set(found)
    paths = list(found)
    new = [p for p in found if p not in discovery.known_paths]
    if new:
        # only rows that hold one of the new keys can hold objects under them
        more, more_objs = _descend(
            con, stage, mapping, new, where="list_has_any(flatten(keys), $names)", params={"names": sorted({p[-1] for p in new})}
        )
        paths.extend(more)
        objects |= more_objs
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
    discovery: Discovery,
    target: str,
) -> None:
    """Make table ``target``: every row of ``stage``, canonical, with the reason it cannot load.

    ``target`` has the canonical columns (without NOT NULL constraints) plus ``ordinal`` (the
    source's rank in the load, for first-seen-wins dedupe) and ``reason``: NULL for an event,
    else why the line is quarantined. One statement, one JSON parse per row, one copy of the raw
    text: every column, ``details`` included, comes out of one ``json_extract_string``.
    (A new table per batch: appending batches to one table was several times slower in DuckDB 2.)
    """
    paths, objects = discover_paths(con, stage, mapping, discovery)
    resolved = mapping.resolve(paths)
    pointers: list[str] = []
    index: dict[str, list[int]] = {}
    for column in ("timestamp", *STRING_FIELDS, "details"):
        for path in resolved.get(column, []):
            if path in objects and column != "details":
                continue  # an object cannot fill a scalar column; it stays in raw
            pointers.append(json_pointer(path))
            index.setdefault(column, []).append(len(pointers))
    v_expr = "json_extract_string(record, $p)" if pointers else "NULL::VARCHAR[]"
    picks = {c: _pick("v", index.get(c, [])) for c in ("timestamp", *STRING_FIELDS, "details")}
    params: dict[str, object] = {
        "source": source,
        "ok": list(OUTCOME_SPELLINGS),
        "ov": list(OUTCOME_SPELLINGS.values()),
        "ak": list(AUTH_CONTEXT_SPELLINGS),
        "av": list(AUTH_CONTEXT_SPELLINGS.values()),
    }
    if pointers:
        params["p"] = pointers
    derived = {
        "event_id": f"coalesce({picks['event_id']}, 'md5:' || md5(raw))",
        "timestamp": "ts",
        "outcome": f"coalesce($ov[list_position($ok, lower(trim({picks['outcome']})))], {picks['outcome']})",
        "auth_context": f"coalesce($av[list_position($ak, lower(trim({picks['auth_context']})))], {picks['auth_context']})",
        # objects and arrays come back as JSON text (so does a string holding one, as CEF's msg);
        # any other value is kept as a JSON string
        "details": (
            f"CASE WHEN {picks['details']} IS NULL THEN NULL "
            f"WHEN left(ltrim({picks['details']}), 1) IN ('{{', '[') AND json_valid({picks['details']}) "
            f"THEN CAST({picks['details']} AS JSON) ELSE to_json({picks['details']}) END"
        ),
        "raw": "raw",
        "source": "$source",
        "source_line": "source_line",
    }
    select = ",\n".join(
        f"CAST({derived.get(c, picks.get(c, 'NULL'))} AS {kind}) AS {c}" for c, kind in duckdb_types().items()
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        WITH x AS (
          SELECT source_line, raw, error, {v_expr} AS v FROM {stage}
        ), y AS (
          SELECT *, {picks['timestamp']} AS ts_text, auditlab_ts({picks['timestamp']}) AS ts FROM x
        )
        SELECT {select},
          CAST({int(ordinal)} AS INTEGER) AS ordinal,
          CASE
            WHEN error IS NOT NULL THEN error
            WHEN ts_text IS NULL THEN 'no timestamp'
            WHEN ts IS NULL THEN 'unusable timestamp: ' || left(ts_text, 80)
            WHEN {picks['action']} IS NULL OR trim({picks['action']}) = '' THEN 'no action'
          END AS reason
        FROM y
        """,  # noqa: S608 - identifiers and indexes are ours; input reaches SQL only as parameters
        params,
    )
