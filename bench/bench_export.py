"""Writing events back: NDJSON and CEF from a store query, against DuckDB writing the bare lines.

The selection is every event of the store (a ``since <time>`` query from its oldest event; the
writers stream it from the store window by window, so memory does not grow with it). Ours: ``write_ndjson`` /
``write_cef`` of the ``QueryResult`` (Portal-shaped records, CEF escaping and labels). Bare: DuckDB
``COPY (SELECT ...) TO (FORMAT json)`` of the same rows (flat canonical objects), and for CEF a
plain concatenation of the header and a few extensions (no escaping), written per Arrow batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from _harness import Context, compare

CEF_BARE_SQL = """
SELECT 'CEF:0|ReversingLabs|Spectra Assure Portal|1|' || action || '|' || action || '|3|rt='
       || epoch_ms(timestamp)::VARCHAR || ' externalId=' || event_id || ' outcome=' || coalesce(outcome, '')
       || ' suser=' || coalesce(user_email, '') || ' src=' || coalesce(ip_address, '')
       || ' msg=' || coalesce(CAST(details AS VARCHAR), '') || chr(10) AS line
FROM events WHERE timestamp >= ? ORDER BY timestamp DESC, event_id
"""


def _since(st: Any) -> Any:
    """The store's oldest event time: ``since`` it, the query selects every event."""
    ((ts,),) = st.con.execute("SELECT min(timestamp) FROM events").fetchall()
    return ts


def _lines(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))


def ours(store: str, fmt: str, out: str) -> dict[str, Any]:
    """Child: our writer over a query result."""
    import auditlab
    from auditlab.filters.model import Query
    from auditlab.io.cef import write_cef
    from auditlab.io.ndjson import write_ndjson

    st = auditlab.open_store(store, create=False)
    since = _since(st)
    t0 = time.perf_counter()
    result = auditlab.QueryResult(st, Query([], "all").between(since, None))
    (write_ndjson if fmt == "ndjson" else write_cef)(result, out, overwrite=True)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": _lines(out), "bytes": Path(out).stat().st_size}


def bare(store: str, fmt: str, out: str) -> dict[str, Any]:
    """Child: DuckDB writes the same rows without our record shape or escaping."""
    import auditlab
    from auditlab.schema import SORT_SQL

    st = auditlab.open_store(store, create=False)
    since = _since(st)
    Path(out).unlink(missing_ok=True)
    t0 = time.perf_counter()
    if fmt == "ndjson":
        st.con.execute(
            f"COPY (SELECT * EXCLUDE (raw) FROM events WHERE timestamp >= $s ORDER BY {SORT_SQL}) "
            f"TO '{out}' (FORMAT json)",
            {"s": since},
        )
    else:
        from auditlab.io._sink import write_lines

        reader = st.con.sql(CEF_BARE_SQL, params=[since]).to_arrow_reader(100_000)
        with open(out, "wb") as fh:
            write_lines(fh, reader)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": _lines(out)}


def benchmark(ctx: Context) -> dict[str, Any]:
    n = ctx.events
    rows = []
    for fmt, label, base in (
        ("ndjson", "NDJSON export (write_ndjson of a query)", "DuckDB COPY ... (FORMAT json)"),
        ("cef", "CEF export (write_cef of a query)", "DuckDB concatenated CEF lines, no escaping"),
    ):
        out = str(ctx.work / f"export.{fmt}")
        rows.append(
            compare(
                label,
                n,
                ("bench_export:ours", {"store": str(ctx.store), "fmt": fmt, "out": out}),
                base,
                ("bench_export:bare", {"store": str(ctx.store), "fmt": fmt, "out": out + ".bare"}),
                repeat=ctx.repeat,
                check="rows",
            )
        )
    return {"title": f"Export (all {n:,} events, newest first)", "rows": rows, "notes": []}
