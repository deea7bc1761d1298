"""Normalise a batch of records into canonical events, in DuckDB, in one statement.

A batch is a table or view of one source's lines:
``source_line BIGINT, raw VARCHAR, record VARCHAR (JSON object text or NULL), pre_error VARCHAR``.
NDJSON lines are their own records (a view over the Arrow lines: no copy); CEF lines come with
the JSON object the CEF reader made of them.

:func:`normalize_batch`:

1. **Head start.** The first :data:`SAMPLE_ROWS` objects are walked recursively for their key
   paths and nested objects; the plan (which JSON pointers to extract) is made from them.
2. **One statement** over every row: ``try(json_keys(record, $parents))`` validates the line
   and lists its keys (top level, under each sampled object path, and under each scalar key a
   nested key could extend into a mapped name, see ``Mapping.extends``), and only for the valid
   objects one ``json_extract_string(record, $pointers)`` extracts every mapped column,
   ``details`` included (a key that holds an object in some rows and is a scalar alias, as
   ``group``, is extracted apart and only from rows where it lists no keys: objects are not
   serialised to be thrown away); timestamps are parsed, outcome and auth context normalised,
   ``event_id`` filled, the reason to quarantine set, and ``shape = hash(keys)`` kept (the key
   lists themselves are never materialised).
3. **No sampling.** One representative row per distinct shape has its keys read: every key of
   every record is seen (a key first met at row 100,001 is found). Paths the sample did not know
   are walked on the rows of the shapes holding them; if they change the mapping, the statement
   runs again for the batch. (Two rows with different key lists sharing a 64-bit hash would
   hide a key: a risk we accept.)
4. **Map**: each path's normal form, then the alias table (:mod:`auditlab.io.mapping`).
5. **Time**: every timestamp candidate is tried in priority order and the first *usable* one
   wins (a CEF ``rt`` that cannot be read gives way to the syslog prefix's time). A date without
   a year (``Jan 17 08:52:10``) takes the year that puts it nearest the record's own dated
   candidate (its syslog prefix), else nearest the range of the batch's dated events, else the
   year before the load (see ``docs/cef.md``).

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

__all__ = ["MAX_DEPTH", "SAMPLE_ROWS", "install_macros", "normalize_batch"]

#: How deep nested objects are flattened into key paths.
MAX_DEPTH = 4

#: How many records the recursive head-start walk looks at.
SAMPLE_ROWS = 2000

#: The reason a dated-less time waits for the batch's range (never left in a finished batch).
_NEEDS_YEAR = "timestamp without a year"

_MACROS = r"""
CREATE OR REPLACE TEMP MACRO auditlab_epoch(s) AS (
  CASE
    WHEN abs(TRY_CAST(s AS DOUBLE)) < 1e11 THEN
      TRY(make_timestamp(CAST(round(CAST(s AS DECIMAL(38, 9)) * 1000000) AS BIGINT)))
    WHEN abs(TRY_CAST(s AS DOUBLE)) < 1e14 THEN
      TRY(make_timestamp(CAST(round(CAST(s AS DECIMAL(38, 9)) * 1000) AS BIGINT)))
    ELSE TRY(make_timestamp(CAST(round(CAST(s AS DECIMAL(38, 9))) AS BIGINT)))
  END::TIMESTAMPTZ
);
CREATE OR REPLACE TEMP MACRO auditlab_ts(s) AS (
  -- ISO 8601 with Z or an offset (the common case: a numeric string never casts), then
  -- epoch seconds, milliseconds or microseconds, then the CEF date forms
  coalesce(
    TRY_CAST(s AS TIMESTAMPTZ),
    CASE
      WHEN regexp_full_match(trim(s), '[+-]?[0-9]{1,19}([.][0-9]+)?') THEN auditlab_epoch(trim(s))
      ELSE try_strptime(regexp_replace(trim(s), '\s+', ' ', 'g'),
                        ['%b %d %Y %H:%M:%S.%g', '%b %d %Y %H:%M:%S',
                         '%b %d %Y %H:%M:%S.%g %Z', '%b %d %Y %H:%M:%S %Z'])
    END
  )
);
-- a date without a year (RFC 3164, CEF 'MMM dd HH:mm:ss[.SSS][ zone]'), placed in leap year 2000
CREATE OR REPLACE TEMP MACRO auditlab_yearless(s) AS (
  CASE WHEN regexp_full_match(trim(s), '[A-Za-z]{3}\s+[0-9]{1,2}\s+[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(\s+\S+)?')
  THEN try_strptime('2000 ' || regexp_replace(trim(s), '\s+', ' ', 'g'),
                    ['%Y %b %d %H:%M:%S', '%Y %b %d %H:%M:%S.%g',
                     '%Y %b %d %H:%M:%S %Z', '%Y %b %d %H:%M:%S.%g %Z'])::TIMESTAMPTZ END
);
-- ``t`` (a year-2000 time) in the year that puts it nearest [lo, hi]; ties: the later year
CREATE OR REPLACE TEMP MACRO auditlab_with_year(t, lo, hi) AS (
  list_sort(list_filter(list_transform(
      range(year(lo) - 1, year(hi) + 2),
      lambda y: {'d': CASE WHEN t + to_years(CAST(y - 2000 AS INTEGER)) < lo
                      THEN epoch_us(lo) - epoch_us(t + to_years(CAST(y - 2000 AS INTEGER)))
                      WHEN t + to_years(CAST(y - 2000 AS INTEGER)) > hi
                      THEN epoch_us(t + to_years(CAST(y - 2000 AS INTEGER))) - epoch_us(hi)
                      ELSE 0 END,
            'y': -y,
            't': CASE WHEN day(t + to_years(CAST(y - 2000 AS INTEGER))) = day(t)
                      THEN t + to_years(CAST(y - 2000 AS INTEGER)) END}),
    lambda c: c.t IS NOT NULL))[1].t
)
"""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define the SQL helpers normalisation uses, and pin the session to UTC."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(_MACROS)


def _children(
    con: duckdb.DuckDBPyConnection, source: str, parents: list[KeyPath]
) -> list[tuple[KeyPath, str]]:
    """(parent, child key) for every key under each parent path in table ``source`` (column ``record``)."""
    if not parents:
        return []
    rows = con.execute(
        f"""SELECT DISTINCT i, k FROM (
              SELECT unnest(range(1, len($p) + 1)) AS i, unnest(json_keys(record, $p)) AS ks
              FROM {source} WHERE record IS NOT NULL
            ), unnest(ks) AS u(k)""",  # noqa: S608 - names are ours
        {"p": [json_pointer(p) for p in parents]},
    ).fetchall()
    return [(parents[i - 1], k) for i, k in sorted(rows) if k is not None]


def _descend(
    con: duckdb.DuckDBPyConnection,
    source: str,
    mapping: Mapping,
    frontier: list[KeyPath],
) -> tuple[list[KeyPath], set[KeyPath]]:
    """Walk down from ``frontier`` (paths that may hold objects): the paths found, and the objects."""
    paths: list[KeyPath] = []
    objects: set[KeyPath] = set()
    frontier = [p for p in frontier if len(p) < MAX_DEPTH and mapping.column_for(p) != "details"]
    while frontier:
        found = _children(con, source, frontier)
        objects.update(parent for parent, _ in found)
        children = [(*parent, key) for parent, key in found]
        paths.extend(children)
        frontier = [c for c in children if len(c) < MAX_DEPTH and mapping.column_for(c) != "details"]
    return paths, objects


def _sample(
    con: duckdb.DuckDBPyConnection, records: str, mapping: Mapping
) -> tuple[set[KeyPath], set[KeyPath]]:
    """Paths and object paths of the first :data:`SAMPLE_ROWS` JSON objects of ``records``."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _auditlab_sample AS
            SELECT record FROM {records}
            WHERE pre_error IS NULL AND try(json_type(record)) = 'OBJECT' LIMIT {SAMPLE_ROWS}"""  # noqa: S608
    )
    try:
        paths, objects = _descend(con, "_auditlab_sample", mapping, [()])
    finally:
        con.execute("DROP TABLE IF EXISTS _auditlab_sample")
    objects.discard(())
    return set(paths), objects


@dataclass(frozen=True)
class _Plan:
    """What one run extracts and computes, made from the known key paths of a batch.

    Attributes:
        parents: the object paths whose keys are listed (the top level first).
        pointers: JSON pointers to extract; the extracted strings are ``e1``, ``e2``, ...
        scalars: (JSON pointer, index in ``parents``, 1-based) of the keys that hold an object in
            some rows and fill a scalar column in the others; extracted (as ``s1``, ``s2``, ...)
            only from rows where one of them holds no key (a scalar, null, ``{}`` or an array), so
            the objects are never serialised to be thrown away.
        picks: canonical column -> SQL over the ``e<i>`` and ``s<i>``.
        times: the timestamp candidates, best first.
    """

    parents: list[KeyPath]
    pointers: list[str]
    scalars: list[tuple[str, int]]
    picks: dict[str, str]
    times: list[str]

    @classmethod
    def make(
        cls,
        mapping: Mapping,
        paths: set[KeyPath],
        objects: set[KeyPath],
        parents: list[KeyPath] | None = None,
    ) -> _Plan:
        """The plan for these paths; ``parents`` (default: the top level and ``objects``) are the
        paths whose key lists the run makes."""
        if parents is None:
            # the top level, the objects, and the scalar keys under which a nested key could fill a
            # column (``actor`` null in the sample, an object with ``email`` later): their key
            # lists are in the shape, so a row where one holds an object has a shape of its own
            leaves = {
                p
                for p in paths - objects
                if len(p) < MAX_DEPTH and mapping.column_for(p) != "details" and mapping.extends(p)
            }
            parents = [(), *sorted(objects - {()}), *sorted(leaves)]
        resolved = mapping.resolve(sorted(paths))
        pointers: list[str] = []
        scalars: list[tuple[str, int]] = []
        items: dict[str, list[str]] = {}
        for column in ("timestamp", *STRING_FIELDS, "details"):
            for path in resolved.get(column, []):
                if path in objects and column != "details":
                    # a key that holds an object in some rows fills a scalar column only where it is
                    # not one (an object stays in raw; its own keys may fill the column instead)
                    if path in parents:
                        scalars.append((json_pointer(path), parents.index(path) + 1))
                        item = f"s{len(scalars)}"
                    else:
                        pointers.append(json_pointer(path))
                        item = f"e{len(pointers)}"
                    item = f"CASE WHEN left({item}, 1) IN ('{{', '[') THEN NULL ELSE {item} END"
                else:
                    pointers.append(json_pointer(path))
                    item = f"e{len(pointers)}"
                items.setdefault(column, []).append(item)
        picks = {c: _pick(items.get(c, [])) for c in ("timestamp", *STRING_FIELDS, "details")}
        return cls(list(parents), pointers, scalars, picks, items.get("timestamp", []))


def _run(
    con: duckdb.DuckDBPyConnection,
    records: str,
    target: str,
    *,
    plan: _Plan,
    source: str,
    ordinal: int,
    years: tuple[object, object] | None = None,
) -> None:
    """The one statement: ``target`` gets every row, canonical, with its reason and shape.

    ``years``: the (lo, hi) range a date without a year is placed nearest, where the record has
    no dated candidate of its own; None: such rows get the reason :data:`_NEEDS_YEAR`.
    """
    picks = plan.picks
    times = plan.times or ["NULL"]
    full = [f"f{i}" for i in range(1, len(times) + 1)]  # each candidate parsed once, in layer yt
    parsed = ", ".join(f"auditlab_ts({t}) AS f{i}" for i, t in enumerate(times, 1))
    # the first usable candidate wins: the first candidate that is a full date, or a date without a year (ts_part, in year 2000)
    chosen_full = " ".join(
        f"WHEN {f} IS NOT NULL THEN {f} WHEN auditlab_yearless({t}) IS NOT NULL THEN NULL"
        for f, t in zip(full, times, strict=True)
    )
    chosen_part = " ".join(
        f"WHEN {f} IS NOT NULL THEN NULL WHEN auditlab_yearless({t}) IS NOT NULL THEN auditlab_yearless({t})"
        for f, t in zip(full, times, strict=True)
    )
    ref = f"coalesce({', '.join(full)})"
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
    unpack = "".join(f", v[{i}] AS e{i}" for i in range(1, len(plan.pointers) + 1))
    unpack += "".join(f", vs[{i}] AS s{i}" for i in range(1, len(plan.scalars) + 1))
    extract = "json_extract_string(record, $p)" if plan.pointers else "NULL::VARCHAR[]"
    # the scalar forms of object-holding keys: only where one of them lists no keys (else NULL: an object)
    no_keys = " OR ".join(f"len(keys[{j}]) = 0" for _, j in plan.scalars) or "false"
    extract_scalars = (
        f"CASE WHEN error IS NULL AND ({no_keys}) THEN json_extract_string(record, $q) END"
        if plan.scalars
        else "NULL::VARCHAR[]"
    )
    params: dict[str, object] = {
        "source": source,
        "ok": list(OUTCOME_SPELLINGS),
        "ov": list(OUTCOME_SPELLINGS.values()),
        "ak": list(AUTH_CONTEXT_SPELLINGS),
        "av": list(AUTH_CONTEXT_SPELLINGS.values()),
        "k": [json_pointer(p) for p in plan.parents],
        "lo": years[0] if years else None,
        "hi": years[1] if years else None,
    }
    if plan.pointers:
        params["p"] = plan.pointers
    if plan.scalars:
        params["q"] = [pointer for pointer, _ in plan.scalars]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        WITH w AS (
          SELECT source_line, raw, record, pre_error, try(json_keys(record, $k)) AS keys,
                 -- an object starts with '{{' (ltrim copies the line: only where it does not)
                 left(record, 1) = '{{' OR left(ltrim(record), 1) = '{{' AS is_object
          FROM {records}
        ), x AS (
          SELECT source_line, raw, record, keys,
                 CASE
                   WHEN pre_error IS NOT NULL THEN pre_error
                   WHEN keys IS NULL THEN 'not valid JSON'
                   WHEN NOT is_object THEN 'not a JSON object (' || CASE json_type(record)
                     WHEN 'VARCHAR' THEN 'string' WHEN 'ARRAY' THEN 'array' WHEN 'NULL' THEN 'null'
                     WHEN 'BOOLEAN' THEN 'boolean' ELSE 'number' END || ')'
                 END AS error
          FROM w
        ), xv AS (
          SELECT source_line, raw, error, CASE WHEN error IS NULL THEN hash(keys) END AS shape {unpack}
          FROM (SELECT *, CASE WHEN error IS NULL THEN {extract} END AS v, {extract_scalars} AS vs FROM x)
        ), yt AS (
          SELECT *, {parsed} FROM xv
        ), y AS (
          SELECT *, {picks["timestamp"]} AS ts_text,
                 CASE {chosen_full} ELSE NULL END AS ts_full,
                 CASE {chosen_part} ELSE NULL END AS ts_part,
                 {ref} AS ts_ref
          FROM yt
        ), z AS (
          SELECT *, coalesce(ts_full, auditlab_with_year(ts_part, coalesce(ts_ref, $lo), coalesce(ts_ref, $hi))) AS ts
          FROM y
        )
        SELECT {select},
          CAST({int(ordinal)} AS INTEGER) AS ordinal,
          CASE
            WHEN error IS NOT NULL THEN error
            WHEN ts_text IS NULL THEN 'no timestamp'
            WHEN ts IS NULL AND ts_part IS NOT NULL AND ts_ref IS NULL AND $lo IS NULL THEN '{_NEEDS_YEAR}'
            WHEN ts IS NULL THEN 'unusable timestamp: ' || left(ts_text, 80)
            WHEN {picks["action"]} IS NULL OR trim({picks["action"]}) = '' THEN 'no action'
          END AS reason,
          shape
        FROM z
        """,  # noqa: S608 - identifiers and indexes are ours; input reaches SQL only as parameters
        params,
    )


def normalize_batch(
    con: duckdb.DuckDBPyConnection,
    records: str,
    *,
    source: str,
    ordinal: int,
    mapping: Mapping,
    target: str,
) -> None:
    """Make table ``target``: every row of ``records``, canonical, with the reason it cannot load.

    ``target`` has the canonical columns (without NOT NULL constraints) plus ``ordinal`` (the
    source's rank in the load, for first-seen-wins dedupe), ``reason`` (NULL for an event, else
    why the line is quarantined) and ``shape`` (a hash of the record's key lists).
    """
    known_paths, known_objects = _sample(con, records, mapping)
    plan = _Plan.make(mapping, known_paths, known_objects)
    run = {"source": source, "ordinal": ordinal}
    _run(con, records, target, plan=plan, **run)  # type: ignore[arg-type]

    # every key of every record: the keys of one representative row per distinct shape
    parents = plan.parents
    reps = con.execute(
        f"""SELECT t.shape, json_keys(r.record, $k) FROM {records} r JOIN (
              SELECT shape, any_value(source_line) AS source_line FROM {target}
              WHERE shape IS NOT NULL GROUP BY shape
            ) t USING (source_line)""",  # noqa: S608 - names are ours
        {"k": [json_pointer(p) for p in parents]},
    ).fetchall()
    found: set[KeyPath] = set()
    objects = set(known_objects)
    fresh_shapes: list[int] = []
    for shape, lists in reps:
        paths = {(*parent, key) for parent, keys in zip(parents, lists, strict=True) for key in keys or ()}
        objects |= {parent for parent, keys in zip(parents, lists, strict=True) if keys} - {()}
        if paths - known_paths:
            fresh_shapes.append(shape)
        found |= paths
    new = sorted(found - known_paths)
    if new:
        # walk down from the paths the sample did not know, on the rows of the shapes that hold them
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _auditlab_sample AS SELECT r.record FROM {records} r
                SEMI JOIN (SELECT source_line FROM {target} WHERE list_contains($s, shape)) t USING (source_line)""",  # noqa: S608
            {"s": fresh_shapes},
        )
        try:
            more, more_objects = _descend(con, "_auditlab_sample", mapping, new)
        finally:
            con.execute("DROP TABLE IF EXISTS _auditlab_sample")
        fresh = _Plan.make(mapping, found | known_paths | set(more), objects | more_objects, parents)
        if (fresh.pointers, fresh.scalars, fresh.picks) != (plan.pointers, plan.scalars, plan.picks):
            plan = fresh
            _run(con, records, target, plan=plan, **run)  # type: ignore[arg-type]

    # dates without a year: placed nearest the batch's dated events (else the year before now)
    ((waiting,),) = con.execute(f"SELECT count(*) FROM {target} WHERE reason = ?", [_NEEDS_YEAR]).fetchall()  # noqa: S608
    if waiting:
        ((lo, hi),) = con.execute(
            f"""SELECT coalesce(min(timestamp), now() - INTERVAL 1 YEAR + INTERVAL 1 DAY),
                       coalesce(max(timestamp), now())
                FROM {target} WHERE reason IS NULL"""  # noqa: S608
        ).fetchall()
        _run(con, records, target, plan=plan, years=(lo, hi), **run)  # type: ignore[arg-type]


def _pick(items: list[str]) -> str:
    """The first non-null of the candidate expressions."""
    if not items:
        return "NULL"
    return items[0] if len(items) == 1 else f"coalesce({', '.join(items)})"
