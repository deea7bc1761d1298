"""The explorer's refresh (count + one page + chart data) against hand-written DuckDB SQL, same data, same run.

Usage: python bench/bench_explorer.py [--events 10000000] [--repeat 7] [--threads 2] [--data DIR]

N canonical events are written once as day-partitioned Parquet shaped like a persistent store
(``bench_query.make_store``: 365 days, login-heavy) under ``DIR/query-<N>/`` (default
``bench/_data``; kept for later runs) and read through a DuckDB view ``events``, as a store reads
its files. For each scenario, one refresh is what the page does after a change of filters or time
range (``auditlab.explorer.state.compute``): the count with the matched span, the first page of 50
newest first, and the timeline by outcome in the bucket chosen from the span. The hand-written side
runs the same three statements with the values inlined as literals. Median of --repeat runs per
side, sides alternating; the ratio printed here is auditlab / hand-written.

Under ``make bench`` (:func:`benchmark`), the same scenarios run over the benchmark's persistent
store (built from the generated NDJSON), each side in a child process of its own, and the report's
ratio is the harness's: hand-written time / auditlab time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
import bench_query

from auditlab.explorer.state import choose_bucket, compute
from auditlab.filters.model import Query
from auditlab.filters.text import parse_query
from auditlab.store.result import parse_bucket

#: name -> (query text, hand-written predicate with {start}/{end} literals, or None for no time bound)
SCENARIOS: dict[str, tuple[str, str]] = {
    "default 24h": ("since 24h", "TRUE"),
    "30d, 3 filters": (
        bench_query.TEXT,
        "action IN ('user.login', 'user.sso.saml.login', 'user.logout') AND outcome = 'failure' "
        "AND (auth_context IS NULL OR auth_context <> 'portal')",
    ),
    "7d, action is user.login": ("action is user.login; since 7d", "action = 'user.login'"),
    "all time, no filter": ("all time", "TRUE"),
}


def by_hand(
    con: duckdb.DuckDBPyConnection, predicate: str, preset: str, newest: datetime
) -> tuple[int, int, int]:
    """The same three statements, written by hand with literal values."""
    where = predicate
    span: timedelta | None = None
    if preset != "all":
        end = newest + timedelta(microseconds=1)
        span = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}[preset]
        start = end - span
        where += f" AND timestamp >= TIMESTAMPTZ '{start.isoformat()}' AND timestamp < TIMESTAMPTZ '{end.isoformat()}'"
    count, first, last = con.execute(
        f"SELECT count(*), min(timestamp), max(timestamp) FROM events WHERE {where}"
    ).fetchall()[0]
    page = con.sql(f"SELECT * FROM events WHERE {where} ORDER BY timestamp DESC, event_id LIMIT 50").pl()
    bucket = choose_bucket(span if span is not None else (last - first if count else None))
    unit, amount = parse_bucket(bucket)
    timeline = con.sql(
        f"SELECT time_bucket({unit}({amount}), timestamp, 'UTC') AS bucket, outcome, count(*) AS count "
        f"FROM events WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST"
    ).pl()
    return int(count), page.height, int(timeline["count"].sum())


def timed(fn: Callable[[], tuple[int, int, int]]) -> tuple[float, tuple[int, int, int]]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", type=Path, default=bench_query.HERE, help="where the Parquet data is kept")
    ap.add_argument("--only", nargs="*", help="run only these scenarios (names as printed)")
    ap.add_argument(
        "--object-cache", action="store_true", help="SET enable_object_cache (Parquet footers cached)"
    )
    args = ap.parse_args()

    bench_query.HERE = args.data
    t0 = time.perf_counter()
    path = bench_query.make_store(args.events)
    print(f"data: {args.events:,} events in {path} ({time.perf_counter() - t0:.1f}s to prepare)")
    con = bench_query.open_events(path, args.threads)
    if args.object_cache:
        con.execute("SET enable_object_cache = true")
    ws = types.SimpleNamespace(con=con)
    t_open = time.perf_counter()
    newest = con.execute("SELECT max(timestamp) FROM events").fetchall()[0][0]
    print(
        f"opening (newest event, the anchor of the presets): {(time.perf_counter() - t_open) * 1000:.0f} ms"
    )
    anchor = newest + timedelta(microseconds=1)

    print(f"{'scenario':<28} {'count':>11} {'auditlab ms':>12} {'by hand ms':>11} {'ratio':>6}")
    medians = []
    for name, (text, predicate) in SCENARIOS.items():
        if args.only and name not in args.only:
            continue
        query: Query = parse_query(text)
        preset = query.time_range.preset

        def ours(query: Query = query) -> tuple[int, int, int]:
            snap = compute(ws, query, anchor=anchor, page=0)
            return snap.count, snap.rows.height, int(snap.timeline["count"].sum())

        def theirs(predicate: str = predicate, preset: str = preset) -> tuple[int, int, int]:
            return by_hand(con, predicate, preset, newest)

        timed(theirs)  # warm each side once
        timed(ours)
        mine, hand = [], []
        for _ in range(args.repeat):
            t_hand, r_hand = timed(theirs)
            t_ours, r_ours = timed(ours)
            assert r_hand == r_ours, (name, r_hand, r_ours)
            hand.append(t_hand)
            mine.append(t_ours)
        m, h = statistics.median(mine), statistics.median(hand)
        medians.append(m)
        print(f"{name:<28} {r_ours[0]:>11,} {m * 1000:>12.1f} {h * 1000:>11.1f} {m / h:>5.2f}x")
    print(f"median refresh over the scenarios: {statistics.median(medians) * 1000:.0f} ms (aim <= 300 ms)")


# -- for bench/run.py (make bench): children and benchmark(ctx) ---------------------------------------


def _refresh_child(store: str, scenario: str, repeat: int, hand: bool) -> dict[str, object]:
    import auditlab

    st = auditlab.open_store(store, create=False)
    newest = st.con.execute("SELECT max(timestamp) FROM events").fetchall()[0][0]
    text, predicate = SCENARIOS[scenario]
    query = parse_query(text)
    preset = query.time_range.preset

    def refresh() -> tuple[int, int, int]:
        if hand:
            return by_hand(st.con, predicate, preset, newest)
        snap = compute(st, query, anchor=newest + timedelta(microseconds=1), page=0)
        return snap.count, snap.rows.height, int(snap.timeline["count"].sum())

    timed(refresh)  # warm the OS cache and DuckDB's metadata once
    runs = [timed(refresh) for _ in range(repeat)]
    return {"seconds": statistics.median(t for t, _ in runs), "result": list(runs[0][1])}


def child_ours(store: str, scenario: str, repeat: int) -> dict[str, object]:
    """Child: the explorer's refresh (``explorer.state.compute``) for one scenario (median of repeat)."""
    return _refresh_child(store, scenario, repeat, hand=False)


def child_hand(store: str, scenario: str, repeat: int) -> dict[str, object]:
    """Child: the same three statements hand-written with the values inlined."""
    return _refresh_child(store, scenario, repeat, hand=True)


def benchmark(ctx):  # type: ignore[no-untyped-def]
    """The explorer's refresh over the persistent store, one row per scenario, against hand-written SQL."""
    from _harness import compare

    rows = []
    for scenario, (text, _) in SCENARIOS.items():
        kw = {"store": str(ctx.store), "scenario": scenario, "repeat": 5}
        rows.append(compare(f"explorer refresh: {scenario}", ctx.events, ("bench_explorer:child_ours", kw),
                            "hand-written DuckDB SQL (count, page, timeline), values inlined",
                            ("bench_explorer:child_hand", kw), repeat=ctx.repeat, check="result",
                            note=f"`{text}`; count + first page of 50 + timeline by outcome; each run: "
                                 "the median of 5 after a warm-up in one process"))  # fmt: skip
    return {"title": "Explorer refresh (persistent store)", "rows": rows, "notes": []}


if __name__ == "__main__":
    main()
