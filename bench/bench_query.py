"""Query speed: QueryResult (compiled filters) against hand-written DuckDB SQL, same data, same run.

Usage: python bench/bench_query.py [--events 10000000] [--repeat 5] [--threads 2]

N canonical events are written once as day-partitioned Parquet under ``bench/_data/query-<N>/``
(as a persistent store lays them out) and read through a DuckDB view ``events``. Both sides run,
for a three-condition query over the 30 days ending at the newest event:

    action is_any user.login,user.sso.saml.login,user.logout; outcome is failure;
    auth_context is_not portal; since 30d

the newest timestamp (the preset's anchor), the count, the first page (50, newest first) and the
hourly timeline by outcome. The hand-written side inlines the values as literals; auditlab binds
parameters and builds its SQL from the filter model. Median of --repeat runs, sides alternating.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import duckdb

from auditlab.catalog import ACTIONS
from auditlab.schema import COLUMNS
from auditlab.store.result import QueryResult

HERE = Path(__file__).parent / "_data"
TEXT = (
    "action is_any user.login,user.sso.saml.login,user.logout; outcome is failure; "
    "auth_context is_not portal; since 30d"
)


def make_store(n: int) -> Path:
    """Day-partitioned Parquet with N events over 365 days (kept for later runs)."""
    out = HERE / f"query-{n}"
    if (out / "done").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE acts AS SELECT unnest(?) AS action, generate_subscripts(?, 1) - 1 AS k",
        [sorted(ACTIONS), sorted(ACTIONS)],
    )
    n_actions = len(ACTIONS)
    # login-heavy, like real logs: a third of events are user.login
    con.execute(f"""
        COPY (
          SELECT
            'ev-' || lpad(i::VARCHAR, 10, '0') AS event_id,
            TIMESTAMPTZ '2025-10-01 00:00:00+00' + to_microseconds((hash(i) % 31536000000000)::BIGINT) AS timestamp,
            CASE WHEN i % 3 = 0 THEN 'user.login' ELSE a.action END AS action,
            CASE WHEN hash(i * 3) % 100 < 8 THEN 'failure' WHEN hash(i * 3) % 100 = 99 THEN NULL ELSE 'success' END AS outcome,
            'user' || (hash(i * 5) % 500)::VARCHAR || '@example.com' AS user_email,
            'u' || (hash(i * 5) % 500)::VARCHAR AS user_id,
            CASE WHEN hash(i * 7) % 10 < 6 THEN 'portal' WHEN hash(i * 7) % 10 < 9 THEN 'api' ELSE NULL END AS auth_context,
            '10.0.' || (hash(i * 11) % 256)::VARCHAR || '.' || (hash(i * 13) % 256)::VARCHAR AS ip_address,
            split_part(a.action, '.', 1) AS resource_type,
            'r' || (hash(i * 17) % 10000)::VARCHAR AS resource_id,
            'resource-' || (hash(i * 17) % 10000)::VARCHAR AS resource_name,
            'g' || (hash(i * 19) % 50)::VARCHAR AS group_id,
            'Group ' || (hash(i * 19) % 50)::VARCHAR AS group_name,
            'project-' || (hash(i * 23) % 300)::VARCHAR AS project_name,
            'pkg-' || (hash(i * 29) % 1000)::VARCHAR AS package_name,
            NULL::VARCHAR AS version_name,
            md5(i::VARCHAR) AS request_id,
            NULL::VARCHAR AS error_message,
            '{{}}' AS details,
            '{{"id": "ev-' || i::VARCHAR || '"}}' AS raw,
            'bench.ndjson' AS source,
            i AS source_line,
            strftime(TIMESTAMPTZ '2025-10-01 00:00:00+00' + to_microseconds((hash(i) % 31536000000000)::BIGINT), '%Y-%m-%d') AS day
          FROM range({n}) r(i) JOIN acts a ON a.k = i % {n_actions}
        ) TO '{out / "events"}' (FORMAT parquet, PARTITION_BY (day), OVERWRITE_OR_IGNORE)
    """)
    (out / "done").write_text("ok")
    return out


def open_events(path: Path, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {threads}")
    glob = str(path / "events" / "**" / "*.parquet")
    cols = ", ".join(COLUMNS)
    con.execute(f"CREATE VIEW events AS SELECT {cols} FROM read_parquet('{glob}', hive_partitioning = false)")
    return con


def via_auditlab(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    r = QueryResult(types.SimpleNamespace(con=con), TEXT)
    count = r.count()
    page = r.page(0, size=50)
    timeline = r.timeline("1h", by="outcome")
    return count, page.height, int(timeline["count"].sum())


def by_hand(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    newest = con.execute("SELECT max(timestamp) FROM events").fetchall()[0][0]
    end = newest + timedelta(microseconds=1)
    start = end - timedelta(days=30)
    where = (
        "action IN ('user.login', 'user.sso.saml.login', 'user.logout') AND outcome = 'failure' "
        "AND (auth_context IS NULL OR auth_context <> 'portal') "
        f"AND timestamp >= TIMESTAMPTZ '{start.isoformat()}' AND timestamp < TIMESTAMPTZ '{end.isoformat()}'"
    )
    count = con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchall()[0][0]
    page = con.sql(f"SELECT * FROM events WHERE {where} ORDER BY timestamp DESC, event_id LIMIT 50").pl()
    timeline = con.sql(
        f"SELECT time_bucket(INTERVAL 1 HOUR, timestamp, 'UTC') AS bucket, outcome, count(*) AS count "
        f"FROM events WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
    ).pl()
    return int(count), page.height, int(timeline["count"].sum())


def timed(
    fn: Callable[[duckdb.DuckDBPyConnection], tuple[int, int, int]], con: duckdb.DuckDBPyConnection
) -> tuple[float, tuple[int, int, int]]:
    t0 = time.perf_counter()
    out = fn(con)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    t0 = time.perf_counter()
    path = make_store(args.events)
    print(f"data: {args.events:,} events in {path} ({time.perf_counter() - t0:.1f}s to prepare)")
    con = open_events(path, args.threads)
    timed(by_hand, con)  # warm the OS cache and DuckDB's metadata, once per side
    timed(via_auditlab, con)
    ours, theirs = [], []
    for _ in range(args.repeat):
        t_hand, r_hand = timed(by_hand, con)
        t_ours, r_ours = timed(via_auditlab, con)
        assert r_hand == r_ours, (r_hand, r_ours)
        theirs.append(t_hand)
        ours.append(t_ours)
    hand, mine = statistics.median(theirs), statistics.median(ours)
    print(f"query: {TEXT}")
    print(f"result: count={r_ours[0]:,} page={r_ours[1]} timeline_total={r_ours[2]:,}")
    print(f"hand-written SQL  median {hand * 1000:8.1f} ms  ({', '.join(f'{t * 1000:.0f}' for t in theirs)})")
    print(f"QueryResult       median {mine * 1000:8.1f} ms  ({', '.join(f'{t * 1000:.0f}' for t in ours)})")
    print(f"ratio QueryResult / hand-written: {mine / hand:.2f}x (target <= 1.2x)")


# -- for bench/run.py (make bench): children and benchmark(ctx) ---------------------------------------


def _on_store(
    store: str, fn: Callable[[duckdb.DuckDBPyConnection], tuple[int, int, int]], repeat: int
) -> dict[str, object]:
    import auditlab

    con = auditlab.open_store(store, create=False).con
    timed(fn, con)  # warm the OS cache and DuckDB's metadata once
    runs = [timed(fn, con) for _ in range(repeat)]
    return {"seconds": statistics.median(t for t, _ in runs), "result": list(runs[0][1])}


def child_ours(store: str, repeat: int) -> dict[str, object]:
    """Child: QueryResult count + first page + hourly timeline over the store (median of repeat)."""
    return _on_store(store, via_auditlab, repeat)


def child_hand(store: str, repeat: int) -> dict[str, object]:
    """Child: the same three statements hand-written with the values inlined."""
    return _on_store(store, by_hand, repeat)


def benchmark(ctx):  # type: ignore[no-untyped-def]
    """The three-condition query over the persistent store, against hand-written DuckDB SQL."""
    from _harness import compare

    kw = {"store": str(ctx.store), "repeat": 5}
    row = compare("query: count + page + hourly timeline (QueryResult)", ctx.events,
                  ("bench_query:child_ours", kw), "hand-written DuckDB SQL, values inlined",
                  ("bench_query:child_hand", kw), repeat=ctx.repeat, check="result",
                  note=f"`{TEXT}`; each run: the median of 5 after a warm-up in one process")  # fmt: skip
    return {"title": "Query (persistent store)", "rows": [row], "notes": []}


if __name__ == "__main__":
    main()
