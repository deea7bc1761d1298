"""One load: inputs -> lines -> staged records -> canonical events, accounted for line by line.

The loop runs over inputs and chunks (hundreds of MB each), never over lines: every chunk is
split with NumPy/Arrow and normalised by one batch of DuckDB statements. Results land in two
temporary views that the caller commits atomically (an in-memory transaction, or a manifest
swap in a persistent store):

- ``_ingest_new``: the canonical events to add (first seen wins within the load, and events
  whose ``event_id`` the store already holds are left out);
- ``_ingest_quarantine``: the rejected lines with source, line number, reason and text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
from auditlab.store.report import LoadReport, QuarantinedLine, SourceReport

if TYPE_CHECKING:
    import duckdb

    from auditlab._types import PathLike

__all__ = ["NEW_EVENTS", "NEW_QUARANTINE", "adopt_new", "drop_new", "ingest"]

NEW_EVENTS = "_ingest_new"
_PART = "_ingest_part"
NEW_QUARANTINE = "_ingest_quarantine"
_QUARANTINE_SAMPLE = 100


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
) -> LoadReport:
    """Read ``paths`` into the temporary tables :data:`NEW_EVENTS` and :data:`NEW_QUARANTINE`.

    Args:
        con: the DuckDB connection to work in.
        paths: files, folders, gzip files or ZIPs.
        existing: a table or view whose ``event_id`` values count as already loaded, or None.
        mapping: the field mapping (default: :meth:`Mapping.default`).
        settings: limits (default: :class:`Settings`).
        progress: show a progress bar (tqdm) on stderr.

    Returns:
        The :class:`LoadReport`; the caller commits the two tables, or drops them.

    Raises:
        InputError: a path is missing or an archive is corrupt or unsafe (nothing is committed).
    """
    settings = settings or Settings()
    mapping = mapping or Mapping.default()
    install_macros(con)
    drop_new(con)
    parts: list[str] = []
    tallies: list[_Tally] = []
    skipped: list[tuple[str, str]] = []
    bar = _progress_bar(progress)
    budget = ByteBudget.from_settings(settings)  # max_total_bytes across the whole load
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
                con.register(_LINES, lines)
                try:
                    _RECORDS_BY_FORMAT.get(tally.format, _records_unknown)(con, lines)
                    parts.append(f"{_PART}{len(parts)}")
                    normalize_batch(
                        con,
                        _RECORDS,
                        source=member.source,
                        ordinal=ordinal,
                        mapping=mapping,
                        target=parts[-1],
                    )
                finally:
                    con.execute(f"DROP VIEW IF EXISTS {_RECORDS}")
                    con.unregister(_LINES)
                    con.unregister(_CEF)
                (count,) = con.execute(f"SELECT count(*) FROM {parts[-1]}").fetchall()[0]  # noqa: S608
                tally.lines += int(count)
            if tally is None and not skip:
                tallies.append(_Tally(ordinal, member.source, "empty"))
    finally:
        if bar is not None:
            bar.close()
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ingest_empty ({duckdb_columns(constraints=False)}, "
        "ordinal INTEGER, reason VARCHAR, shape UBIGINT)"
    )
    union = " UNION ALL ".join(f"SELECT * FROM {p}" for p in [*parts, "_ingest_empty"])  # noqa: S608 - our names
    con.execute(f"CREATE OR REPLACE TEMP VIEW _ingest_events AS {union}")
    return _settle(con, tallies, skipped, existing, text_chars=settings.quarantine_text_chars)


def _settle(
    con: duckdb.DuckDBPyConnection,
    tallies: list[_Tally],
    skipped: list[tuple[str, str]],
    existing: str | None,
    *,
    text_chars: int,
) -> LoadReport:
    """Find duplicates (first seen wins, then against ``existing``) and count per source.

    Only the duplicate rows are ever materialised: ``_ingest_dups`` names them by
    (ordinal, source_line); :data:`NEW_EVENTS` is a view of the rest, copied once by the commit.
    """
    in_store = (
        "UNION SELECT ordinal, source_line FROM _ingest_events "  # noqa: S608
        f"WHERE reason IS NULL AND event_id IN (SELECT event_id FROM {existing})"
        if existing
        else ""
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ingest_dups AS
        SELECT ordinal, source_line FROM (
          SELECT ordinal, source_line,
                 row_number() OVER (PARTITION BY event_id ORDER BY ordinal, source_line) AS rank
          FROM _ingest_events
          WHERE reason IS NULL AND event_id IN (
            SELECT event_id FROM _ingest_events WHERE reason IS NULL GROUP BY event_id HAVING count(*) > 1
          )
        ) WHERE rank > 1
        {in_store}
        """  # noqa: S608 - names are ours
    )
    cols = ", ".join(COLUMNS)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {NEW_EVENTS} AS SELECT {cols} "  # noqa: S608
        "FROM _ingest_events ANTI JOIN _ingest_dups USING (ordinal, source_line) WHERE reason IS NULL"
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
    sample = [
        QuarantinedLine(*row)
        for row in con.execute(
            "SELECT source, source_line, reason, left(raw, ?) FROM _ingest_events WHERE reason IS NOT NULL "
            "ORDER BY ordinal, source_line LIMIT ?",
            [int(text_chars), _QUARANTINE_SAMPLE],
        ).fetchall()
    ]
    sources = []
    for t in tallies:
        good, bad = counts.get(t.ordinal, (0, 0))
        dup = int(dups.get(t.ordinal, 0))
        sources.append(
            SourceReport(
                t.source, t.format, lines=t.lines, loaded=good - dup, duplicates=dup, quarantined=bad
            )
        )
    report = LoadReport(sources=sources, quarantine=sample, skipped=skipped)
    for s in sources:
        if s.lines != s.loaded + s.duplicates + s.quarantined:  # an invariant, not a user error
            raise InputError(f"line accounting failed ({s})", source=s.source)
    return report


def adopt_new(con: duckdb.DuckDBPyConnection, prefix: str) -> list[str]:
    """Keep the load's batch tables as they are, without copying them: delete their rejected
    and duplicate rows and rename them ``<prefix><n>``. Returns the new names (call it inside the
    caller's transaction, after the quarantine has been copied out)."""
    names = []
    for (part,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?) ORDER BY table_name",
        [_PART],
    ).fetchall():
        con.execute(
            f"""DELETE FROM "{part}" t WHERE t.reason IS NOT NULL OR EXISTS (
                  SELECT 1 FROM _ingest_dups d WHERE d.ordinal = t.ordinal AND d.source_line = t.source_line)"""  # noqa: S608
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
    for (table,) in [*parts, ("_ingest_dups",), ("_ingest_empty",)]:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')


def _progress_bar(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit="B", unit_scale=True, desc="loading", leave=False, mininterval=0.5, delay=1.0)
