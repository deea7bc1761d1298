"""One load: inputs -> lines -> staged records -> canonical events, accounted for line by line.

The loop runs over inputs and chunks (hundreds of MB each), never over lines: every chunk is
split with NumPy/Arrow and normalised by one batch of DuckDB statements. Each batch is kept as a
temporary table (an in-memory workspace), or written at once to a staged Parquet file and
dropped (a store: ``stage``), so a store load holds one batch in memory, whatever its size.

Then duplicates are found (:func:`_settle`). **A duplicate is the same event**: its ``event_id``
matches an earlier record's (stored, or earlier in the load) *and* it is the same event: the
same raw text, or the same canonical content (:data:`CONTENT_COLUMNS`: timestamp, action,
user, IP, outcome, target), so the NDJSON and CEF twins of one Portal export dedupe. Two records
with one id and different content are both kept; the later gets the derived, stable id
``<id>#<first 12 hex of the content key>`` and is counted as an ``id_collision``.

The results are temporary views the caller commits atomically (an in-memory transaction, or a
manifest swap in a persistent store):

- ``_ingest_new``: the canonical events to add (derived ids applied);
- ``_ingest_quarantine``: the rejected lines with source, line number, reason and text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from auditlab.config import Settings
from auditlab.errors import InputError
from auditlab.io.archive import ByteBudget, iter_chunks, iter_members
from auditlab.io.detect import sniff_format
from auditlab.io.lines import BATCH_ROWS, split_lines
from auditlab.io.mapping import Mapping
from auditlab.io.normalize import install_macros, normalize_batch
from auditlab.schema import COLUMNS, duckdb_columns
from auditlab.store.report import IdCollision, LoadReport, QuarantinedLine, SourceReport

if TYPE_CHECKING:
    import duckdb

    from auditlab._types import PathLike

__all__ = [
    "CONTENT_COLUMNS",
    "NEW_EVENTS",
    "NEW_QUARANTINE",
    "adopt_new",
    "content_key_sql",
    "drop_new",
    "ingest",
]

NEW_EVENTS = "_ingest_new"
_PART = "_ingest_part"
NEW_QUARANTINE = "_ingest_quarantine"
_QUARANTINE_SAMPLE = 100
_COLLISION_SAMPLE = 20

#: The canonical content that makes two records with one ``event_id`` the same event.
CONTENT_COLUMNS: tuple[str, ...] = (
    "timestamp", "action", "user", "ip_address", "outcome", "resource_type", "resource_id", "resource_name",
)  # fmt: skip

#: Hex digits of the content key in a derived id (``<id>#<hex>``).
SUFFIX_HEX = 12


def content_key_sql(alias: str = "") -> str:
    """SQL for the content key of an event row: MD5 of its canonical content as a JSON list.

    The user is the e-mail, else the user id (a CEF twin may carry only one of them); the
    timestamp counts to the microsecond. Stable across versions (MD5 of text, not DuckDB's hash).

    Examples:
        >>> import duckdb
        >>> con = duckdb.connect()
        >>> sql = content_key_sql()
        >>> con.sql(f"SELECT {sql} FROM (SELECT TIMESTAMPTZ '2026-01-01 00:00:00Z' AS timestamp, 'user.login' AS action, "
        ...         "'a@x' AS user_email, NULL AS user_id, NULL AS ip_address, 'success' AS outcome, NULL AS resource_type, "
        ...         "NULL AS resource_id, NULL AS resource_name)").fetchall()[0][0]
        '681f9b491b9044727504d137e088e964'
    """
    a = f"{alias}." if alias else ""
    fields = [
        f"CAST(epoch_us({a}timestamp) AS VARCHAR)",
        f"{a}action",
        f"coalesce({a}user_email, {a}user_id)",
        *(f"{a}{c}" for c in ("ip_address", "outcome", "resource_type", "resource_id", "resource_name")),
    ]
    return f"md5(to_json([{', '.join(fields)}]))"


@dataclass
class _Tally:
    ordinal: int
    source: str
    format: str
    lines: int = 0


_RECORDS = "_auditlab_records"  # the batch normalize_batch reads
_LINES = "_auditlab_lines"  # the registered Arrow lines of the batch
_CEF = "_auditlab_cef"  # the registered CEF reader's answer for the batch
_NOT_BLANK = "text IS NULL OR text <> ''"  # blank lines (empty, or only CR) are not events


def _records_ndjson(con: duckdb.DuckDBPyConnection, lines: pa.Table) -> None:
    """NDJSON lines are their own records: a view over the Arrow lines, nothing copied."""
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {_RECORDS} AS
            SELECT source_line, coalesce(text, invalid) AS raw, text AS record,
                   CASE WHEN text IS NULL THEN 'invalid UTF-8' END AS pre_error
            FROM {_LINES} WHERE {_NOT_BLANK}"""  # noqa: S608 - names are ours
    )


def _records_cef(con: duckdb.DuckDBPyConnection, lines: pa.Table) -> None:
    """CEF lines beside the JSON object the CEF reader makes of each, in one Arrow table.

    ``parse_cef`` answers every input line in order, so its columns sit beside the lines'
    (zero-copy) and nothing is filtered, joined or sorted.
    """
    from auditlab.io.cef import parse_cef

    parsed = parse_cef(lines.select(["source_line", "text"]))
    both = pa.table(
        {
            "source_line": lines.column("source_line"),
            "text": lines.column("text"),
            "invalid": lines.column("invalid"),
            "record": parsed.column("record"),
            "error": parsed.column("error"),
        }
    )
    # DuckDB scans an Arrow table one record batch per thread
    con.register(_CEF, pa.Table.from_batches(both.to_batches(max_chunksize=BATCH_ROWS)))
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {_RECORDS} AS
            SELECT source_line, coalesce(text, invalid) AS raw, record,
                   CASE WHEN text IS NULL THEN 'invalid UTF-8'
                        ELSE coalesce(error, CASE WHEN record IS NULL THEN 'not a CEF line' END)
                   END AS pre_error
            FROM {_CEF} WHERE text IS NULL OR text <> ''"""  # noqa: S608 - names are ours
    )


def _records_unknown(con: duckdb.DuckDBPyConnection, lines: pa.Table) -> None:
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {_RECORDS} AS
            SELECT source_line, coalesce(text, invalid) AS raw, NULL::VARCHAR AS record,
                   'not an audit log line (neither NDJSON nor CEF)' AS pre_error
            FROM {_LINES} WHERE {_NOT_BLANK}"""  # noqa: S608 - names are ours
    )


#: format -> how its lines become a batch of records (an extension point: one entry per reader).
_RECORDS_BY_FORMAT = {"ndjson": _records_ndjson, "cef": _records_cef}


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[PathLike],
    *,
    existing: str | None,
    mapping: Mapping | None = None,
    settings: Settings | None = None,
    progress: bool = False,
    stage: Path | None = None,
) -> LoadReport:
    """Read ``paths`` into the temporary views :data:`NEW_EVENTS` and :data:`NEW_QUARANTINE`.

    Args:
        con: the DuckDB connection to work in.
        paths: files, folders, gzip files or ZIPs.
        existing: a table or view of the events already loaded (canonical columns), or None.
        mapping: the field mapping (default: :meth:`Mapping.default`).
        settings: limits (default: :class:`Settings`).
        progress: show a progress bar (tqdm) on stderr.
        stage: a folder: each batch goes to a Parquet file there as soon as it is normalised and
            leaves memory (bounded-memory loads); None keeps the batches as temporary tables.

    Returns:
        The :class:`LoadReport`; the caller commits the two views, or drops them.

    Raises:
        InputError: a path is missing or an archive is corrupt or unsafe (nothing is committed).
    """
    settings = settings or Settings()
    mapping = mapping or Mapping.default()
    install_macros(con)
    drop_new(con)
    parts: list[str] = []
    staged: list[str] = []
    tallies: list[_Tally] = []
    skipped: list[tuple[str, str]] = []
    bar = _progress_bar(progress)
    budget = ByteBudget.from_settings(settings)  # max_total_bytes across the whole load
    if stage is not None:
        stage.mkdir(parents=True, exist_ok=True)
    try:
        for ordinal, member in enumerate(iter_members(paths, settings=settings)):
            tally: _Tally | None = None
            skip = False
            for first_line, chunk in iter_chunks(
                member, settings=settings, chunk_bytes=settings.chunk_bytes, budget=budget
            ):
                if bar is not None:
                    bar.update(len(chunk))
                if tally is None:
                    if member.source.rsplit("!", 1)[-1].rsplit("/", 1)[-1] == "manifest.json":
                        skipped.append((member.source, "export manifest, not audit lines"))
                        skip = True
                        break
                    fmt = sniff_format(chunk[:65536])
                    tally = _Tally(ordinal, member.source, fmt)
                    tallies.append(tally)
                lines = split_lines(chunk, first_line=first_line)
                del chunk
                con.register(_LINES, lines)
                part = f"{_PART}{len(parts) + len(staged)}"
                try:
                    _RECORDS_BY_FORMAT.get(tally.format, _records_unknown)(con, lines)
                    normalize_batch(
                        con,
                        _RECORDS,
                        source=member.source,
                        ordinal=ordinal,
                        mapping=mapping,
                        target=part,
                    )
                finally:
                    con.execute(f"DROP VIEW IF EXISTS {_RECORDS}")
                    con.unregister(_LINES)
                    con.unregister(_CEF)
                    del lines
                (count,) = con.execute(f"SELECT count(*) FROM {part}").fetchall()[0]  # noqa: S608
                tally.lines += int(count)
                if stage is None:
                    parts.append(part)
                else:  # to disk at once, by day: the load never holds more than this batch
                    _stage_batch(con, part, stage, len(staged))
                    staged.append(part)
                    con.execute(f"DROP TABLE {part}")
            if tally is None and not skip:
                tallies.append(_Tally(ordinal, member.source, "empty"))
    finally:
        if bar is not None:
            bar.close()
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ingest_empty ({duckdb_columns(constraints=False)}, "
        "ordinal INTEGER, reason VARCHAR, shape UBIGINT)"
    )
    selects = [f"SELECT * FROM {p}" for p in [*parts, "_ingest_empty"]]  # noqa: S608 - our names
    if stage is not None:
        files = [str(f) for f in sorted(stage.glob("*/*/*.parquet"))]  # events/day=*/ and rejects/
        if files:
            listing = ", ".join(_sql_str(f) for f in files)
            selects.append(f"SELECT * FROM read_parquet([{listing}], hive_partitioning = false)")  # noqa: S608
    con.execute(f"CREATE OR REPLACE TEMP VIEW _ingest_events AS {' UNION ALL '.join(selects)}")
    return _settle(con, tallies, skipped, existing, text_chars=settings.quarantine_text_chars)


def _stage_batch(con: duckdb.DuckDBPyConnection, part: str, stage: Path, n: int) -> None:
    """Write batch table ``part`` under ``stage``: its events by UTC day (``events/day=D/``),
    its rejected lines apart (``rejects/``). Same columns as the table (``day`` is in the path)."""
    (good, bad) = con.execute(
        f"SELECT count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL) FROM {part}"  # noqa: S608
    ).fetchall()[0]
    if good:
        con.execute(
            f"COPY (SELECT *, strftime(timestamp, '%Y-%m-%d') AS day FROM {part} WHERE reason IS NULL) "  # noqa: S608
            f"TO {_sql_str(str(stage / 'events'))} (FORMAT parquet, PARTITION_BY (day), "
            f"FILENAME_PATTERN 'b{n}_{{i}}', OVERWRITE_OR_IGNORE true, COMPRESSION snappy)"
        )
    if bad:
        (stage / "rejects" / "all").mkdir(parents=True, exist_ok=True)
        target = _sql_str(str(stage / "rejects" / "all" / f"b{n}.parquet"))
        con.execute(
            f"COPY (SELECT * FROM {part} WHERE reason IS NOT NULL) TO {target} (FORMAT parquet, COMPRESSION snappy)"  # noqa: S608
        )


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _settle(
    con: duckdb.DuckDBPyConnection,
    tallies: list[_Tally],
    skipped: list[tuple[str, str]],
    existing: str | None,
    *,
    text_chars: int,
) -> LoadReport:
    """Find duplicates and id collisions (see the module docstring), and count per source.

    Materialises only keys: ``_ingest_keys`` (row, id, content key) of the load's events,
    ``_ingest_dups`` (row) of its duplicates and ``_ingest_ids`` (row, derived id) of its id
    collisions; :data:`NEW_EVENTS` is a view of the rest, copied once by the commit. DuckDB
    spills these to its temp directory past its memory limit.
    """
    # only an id held more than once (in the load, or stored as it is or as the base of a derived
    # id ``<id>#<hex>``) can make a duplicate or a collision: the content key is computed for those
    # rows only (a load of fresh ids computes none)
    stored_ids = (
        f"SELECT event_id AS id FROM {existing} UNION ALL "  # noqa: S608 - names are ours
        f"SELECT left(event_id, length(event_id) - {SUFFIX_HEX + 1}) FROM {existing} "
        f"WHERE length(event_id) > {SUFFIX_HEX + 1} AND substr(event_id, -{SUFFIX_HEX + 1}, 1) = '#'"
        if existing
        else "SELECT NULL::VARCHAR AS id WHERE false"
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _ingest_keys AS
            WITH ids AS (SELECT event_id AS id FROM _ingest_events WHERE reason IS NULL),
            shared AS (
              SELECT id FROM ids GROUP BY id HAVING count(*) > 1
              UNION SELECT id FROM ids SEMI JOIN ({stored_ids}) s USING (id)
            )
            SELECT ordinal, source_line, event_id AS id, {content_key_sql()} AS ck,
                   CAST(timestamp AS DATE) AS day
            FROM _ingest_events WHERE reason IS NULL AND event_id IN (SELECT id FROM shared)"""  # noqa: S608 - names are ours
    )
    # new rows whose id (or derived id) is stored: same event, or the id is taken
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ingest_pairs "
        "(ordinal INTEGER, source_line BIGINT, sid VARCHAR, direct BOOLEAN, same BOOLEAN)"
    )
    if existing:
        # the stored events whose id is a candidate's, with their content keys (computed for those only)
        stored = f"""(SELECT event_id, {content_key_sql()} AS ck FROM {existing}
                      WHERE event_id IN (SELECT id FROM _ingest_keys
                                         UNION ALL SELECT id || '#' || left(ck, {SUFFIX_HEX}) FROM _ingest_keys))"""  # noqa: S608
        con.execute(
            f"""INSERT INTO _ingest_pairs
                WITH s AS MATERIALIZED {stored}
                SELECT k.ordinal, k.source_line, s.event_id, true, s.ck = k.ck
                FROM _ingest_keys k JOIN s ON s.event_id = k.id
                UNION ALL
                SELECT k.ordinal, k.source_line, s.event_id, false, s.ck = k.ck
                FROM _ingest_keys k JOIN s ON s.event_id = k.id || '#' || left(k.ck, {SUFFIX_HEX})"""  # noqa: S608
        )
        # same id, other content, but the same raw text (e.g. read with another mapping)
        con.execute(
            f"""UPDATE _ingest_pairs p SET same = true FROM (
                  SELECT p.ordinal, p.source_line, p.sid
                  FROM (SELECT * FROM _ingest_pairs WHERE NOT same) p
                  JOIN _ingest_events e ON e.ordinal = p.ordinal AND e.source_line = p.source_line
                  JOIN (SELECT event_id, raw FROM {existing}) s ON s.event_id = p.sid
                  WHERE s.raw = e.raw
                ) r WHERE p.ordinal = r.ordinal AND p.source_line = r.source_line AND p.sid = r.sid"""  # noqa: S608
        )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ingest_dups AS
        SELECT DISTINCT ordinal, source_line FROM _ingest_pairs WHERE same
        """
    )
    # within the load: rows of ids held more than once, first seen wins per (id, content)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ingest_group AS
        WITH r AS (SELECT * FROM _ingest_keys k ANTI JOIN _ingest_dups d USING (ordinal, source_line)),
        multi AS (SELECT id FROM r GROUP BY id HAVING count(*) > 1)
        SELECT ordinal, source_line, id, ck,
               row_number() OVER (PARTITION BY id, ck ORDER BY ordinal, source_line) AS n
        FROM r SEMI JOIN multi USING (id)
        """
    )
    # heads of one id with other content but the same raw text are one event too
    con.execute(
        """
        INSERT INTO _ingest_dups
        SELECT ordinal, source_line FROM _ingest_group WHERE n > 1
        UNION ALL
        SELECT ordinal, source_line FROM (
          SELECT h.ordinal, h.source_line,
                 row_number() OVER (PARTITION BY h.id, md5(e.raw) ORDER BY h.ordinal, h.source_line) AS m
          FROM (SELECT * FROM _ingest_group WHERE n = 1 AND id IN (
                  SELECT id FROM _ingest_group WHERE n = 1 GROUP BY id HAVING count(*) > 1)) h
          JOIN _ingest_events e ON e.ordinal = h.ordinal AND e.source_line = h.source_line
        ) WHERE m > 1
        """
    )
    # the kept rows that get a derived id: all but the first of an id, and any whose id is
    # stored with other content
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ingest_ids AS
        WITH kept AS (
          SELECT ordinal, source_line, id, ck FROM _ingest_group g
          ANTI JOIN _ingest_dups d USING (ordinal, source_line)
          UNION ALL
          SELECT k.ordinal, k.source_line, k.id, k.ck FROM _ingest_keys k
          SEMI JOIN (SELECT ordinal, source_line FROM _ingest_pairs WHERE direct) p USING (ordinal, source_line)
          ANTI JOIN _ingest_group g USING (ordinal, source_line)
          ANTI JOIN _ingest_dups d USING (ordinal, source_line)
        ), taken AS (
          SELECT DISTINCT k.id FROM _ingest_keys k
          SEMI JOIN (SELECT ordinal, source_line FROM _ingest_pairs WHERE direct) p USING (ordinal, source_line)
        )
        SELECT ordinal, source_line, id, id || '#' || left(ck, {SUFFIX_HEX}) AS event_id FROM (
          SELECT *, row_number() OVER (PARTITION BY id ORDER BY ordinal, source_line) AS rank FROM kept
        ) WHERE rank > 1 OR id IN (SELECT id FROM taken)
        """  # noqa: S608 - names are ours
    )
    cols = ", ".join(
        "coalesce(i.event_id, e.event_id) AS event_id" if c == "event_id" else f"e.{c}" for c in COLUMNS
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {NEW_EVENTS} AS SELECT {cols} "  # noqa: S608
        "FROM _ingest_events e ANTI JOIN _ingest_dups d USING (ordinal, source_line) "
        "LEFT JOIN _ingest_ids i USING (ordinal, source_line) WHERE e.reason IS NULL"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {NEW_QUARANTINE} AS "  # noqa: S608
        f"SELECT source, source_line, reason, left(raw, {int(text_chars)}) AS text FROM _ingest_events "
        "WHERE reason IS NOT NULL"
    )
    counts = {
        ordinal: (int(good), int(bad))
        for ordinal, good, bad in con.execute(
            "SELECT ordinal, count(*) FILTER (WHERE reason IS NULL), count(*) FILTER (WHERE reason IS NOT NULL) "
            "FROM _ingest_events GROUP BY ordinal"
        ).fetchall()
    }
    dups = dict(con.execute("SELECT ordinal, count(*) FROM _ingest_dups GROUP BY ordinal").fetchall())
    collided = dict(con.execute("SELECT ordinal, count(*) FROM _ingest_ids GROUP BY ordinal").fetchall())
    sample = [
        QuarantinedLine(*row)
        for row in con.execute(
            "SELECT source, source_line, reason, left(raw, ?) FROM _ingest_events WHERE reason IS NOT NULL "
            "ORDER BY ordinal, source_line LIMIT ?",
            [int(text_chars), _QUARANTINE_SAMPLE],
        ).fetchall()
    ]
    by_ordinal = {t.ordinal: t.source for t in tallies}
    collisions = [
        IdCollision(by_ordinal.get(ordinal, "?"), int(line), given, derived)
        for ordinal, line, given, derived in con.execute(
            "SELECT ordinal, source_line, id, event_id FROM _ingest_ids ORDER BY ordinal, source_line LIMIT ?",
            [_COLLISION_SAMPLE],
        ).fetchall()
    ]
    sources = []
    for t in tallies:
        good, bad = counts.get(t.ordinal, (0, 0))
        dup = int(dups.get(t.ordinal, 0))
        sources.append(
            SourceReport(
                t.source,
                t.format,
                lines=t.lines,
                loaded=good - dup,
                duplicates=dup,
                quarantined=bad,
                id_collisions=int(collided.get(t.ordinal, 0)),
            )
        )
    report = LoadReport(sources=sources, quarantine=sample, skipped=skipped, collisions=collisions)
    for s in sources:
        if s.lines != s.loaded + s.duplicates + s.quarantined:  # an invariant, not a user error
            raise InputError(f"line accounting failed ({s})", source=s.source)
    return report


def adopt_new(con: duckdb.DuckDBPyConnection, prefix: str) -> list[str]:
    """Keep the load's batch tables as they are, without copying them: delete their rejected
    and duplicate rows, give id collisions their derived ids, and rename them ``<prefix><n>``.
    Returns the new names (call it inside the caller's transaction, after the quarantine has
    been copied out)."""
    names = []
    (n_ids,) = con.execute("SELECT count(*) FROM _ingest_ids").fetchall()[0]
    for (part,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?) ORDER BY table_name",
        [_PART],
    ).fetchall():
        con.execute(
            f"""DELETE FROM "{part}" t WHERE t.reason IS NOT NULL OR EXISTS (
                  SELECT 1 FROM _ingest_dups d WHERE d.ordinal = t.ordinal AND d.source_line = t.source_line)"""  # noqa: S608
        )
        if n_ids:
            con.execute(
                f"""UPDATE "{part}" t SET event_id = i.event_id FROM _ingest_ids i
                    WHERE i.ordinal = t.ordinal AND i.source_line = t.source_line"""  # noqa: S608
            )
        names.append(f"{prefix}{part.removeprefix(_PART)}")
        con.execute(f'ALTER TABLE "{part}" RENAME TO "{names[-1]}"')
    return names


def drop_new(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what :func:`ingest` left for the commit (after it, or after a failure)."""
    for view in (NEW_EVENTS, NEW_QUARANTINE, "_ingest_events"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    parts = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)", [_PART]
    ).fetchall()
    scratch = (
        "_ingest_dups",
        "_ingest_empty",
        "_ingest_keys",
        "_ingest_pairs",
        "_ingest_group",
        "_ingest_ids",
    )
    for (table,) in [*parts, *((t,) for t in scratch)]:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')


def _progress_bar(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit="B", unit_scale=True, desc="loading", leave=False, mininterval=0.5, delay=1.0)
