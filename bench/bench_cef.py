"""CEF reading throughput and memory, against the NDJSON twin of the same events.

Usage: python bench/bench_cef.py [--events 1000000] [--batch-rows 100000] [--repeat 3] [--skip-load]

1. Makes N synthetic Portal-like events (labelled custom fields, JSON details with escapes,
   a few sub-millisecond timestamps) and writes them with auditlab's own writers as
   ``bench/_data/cef_<N>.cef`` and its twin ``bench/_data/cef_<N>.ndjson``.
2. Each measurement runs in a fresh subprocess and reports its peak RSS (``ru_maxrss``):
   - ``parse``: split the CEF file into lines (as the loader does) and run ``parse_cef``;
   - ``load-cef`` / ``load-ndjson``: the full ``auditlab.load`` of each file.
3. Prints lines/s, MB/s, peak RSS, the CEF/NDJSON load throughput ratio (target >= 0.5) and the
   number of differing canonical values between the two loads (target 0).

The machine may be shared: each timing is repeated ``--repeat`` times (CEF and NDJSON loads
alternating) and the median is reported, with the range; peak RSS is the largest seen.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent / "_data"


def make_files(n: int) -> tuple[Path, Path]:
    import polars as pl

    from auditlab.catalog import ACTIONS
    from auditlab.io.cef import write_cef
    from auditlab.io.ndjson import write_ndjson
    from auditlab.schema import EVENTS_SCHEMA

    cef, nd = HERE / f"cef_{n}.cef", HERE / f"cef_{n}.ndjson"
    if cef.exists() and nd.exists():
        return cef, nd
    HERE.mkdir(parents=True, exist_ok=True)
    actions = sorted(ACTIONS)
    i = pl.int_range(n, eager=False)
    df = pl.select(
        pl.format("{}-{}", i, (i * 7919) % 100003).alias("event_id"),
        (pl.lit(1_790_000_000_000_000) + i * 1_003_000 + pl.when(i % 97 == 0).then(7).otherwise(0))
        .cast(pl.Datetime("us", "UTC"))
        .alias("timestamp"),
        pl.lit(pl.Series(actions)).gather(i % len(actions)).alias("action"),
        pl.when(i % 17 == 0).then(pl.lit("failure")).otherwise(pl.lit("success")).alias("outcome"),
        pl.format("user{}@acme.example", i % 500).alias("user_email"),
        pl.format("u-{}", i % 500).alias("user_id"),
        pl.when(i % 3 == 0).then(pl.lit("api")).otherwise(pl.lit("portal")).alias("auth_context"),
        pl.format("198.51.100.{}", i % 250).alias("ip_address"),
        pl.lit(pl.Series(actions))
        .gather(i % len(actions))
        .str.split(".")
        .list.first()
        .alias("resource_type"),
        pl.format("t-{}", i % 9000).alias("resource_id"),
        pl.format("target | {} = name", i % 9000).alias("resource_name"),
        pl.format("g-{}", i % 12).alias("group_id"),
        pl.format("group {}", i % 12).alias("group_name"),
        pl.when(i % 2 == 0).then(pl.format("project-{}", i % 40)).alias("project_name"),
        pl.lit(None, pl.String).alias("package_name"),
        pl.lit(None, pl.String).alias("version_name"),
        pl.format("req-{}", i).alias("request_id"),
        pl.when(i % 17 == 0).then(pl.lit("Invalid credentials")).alias("error_message"),
        pl.when(i % 5 == 0)
        .then(
            pl.lit('{"changes":[{"field":"name","old":"a=b\\\\c","new":"x|y ')
            + i.cast(pl.String)
            + pl.lit('"}]}')
        )
        .alias("details"),
        pl.lit(None, pl.String).alias("raw"),
        pl.lit("bench").alias("source"),
        i.cast(pl.Int64).alias("source_line"),
    )
    table = df.to_arrow().cast(EVENTS_SCHEMA)
    write_cef(table, cef, overwrite=True)
    write_ndjson(table, nd, overwrite=True)
    return cef, nd


def child(kind: str, path: str, batch_rows: int) -> dict[str, object]:
    t = time.perf_counter()
    out: dict[str, object] = {}
    if kind == "parse":
        from auditlab.io.cef import parse_cef
        from auditlab.io.lines import split_lines

        data = Path(path).read_bytes()
        t = time.perf_counter()
        lines = split_lines(data)
        parsed = parse_cef(lines.select(["source_line", "text"]), batch_rows=batch_rows)
        out["rows"] = parsed.num_rows
        out["errors"] = parsed.num_rows - parsed.column("error").null_count
    else:
        import auditlab

        ws = auditlab.load(path)
        out["rows"] = ws.count()
        out["quarantined"] = ws.last_report.quarantined if ws.last_report else None
        if kind == "compare":
            other = auditlab.load(path.replace(".cef", ".ndjson"))
            cols = [c for c in ws.to_arrow().column_names if c not in ("raw", "source", "source_line")]
            a = ws.to_arrow().select(cols).sort_by("event_id")
            b = other.to_arrow().select(cols).sort_by("event_id")
            out["rows_ndjson"] = b.num_rows
            out["mismatches"] = (
                {c: n for c in cols if (n := _diff(a.column(c), b.column(c)))}
                if a.num_rows == b.num_rows
                else None
            )
    out["seconds"] = time.perf_counter() - t
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _diff(x, y) -> int:  # type: ignore[no-untyped-def]
    import pyarrow.compute as pc

    same = pc.fill_null(pc.equal(x, y), False)
    both_null = pc.and_(pc.is_null(x), pc.is_null(y))
    return int(pc.sum(pc.invert(pc.or_(same, both_null))).as_py() or 0)


def run(kind: str, path: Path, batch_rows: int) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--file", str(path), "--batch-rows", str(batch_rows)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"failed": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _median(runs: list[dict[str, object]], key: str) -> float:
    return float(statistics.median(float(r[key]) for r in runs))  # type: ignore[arg-type]


def _summary(runs: list[dict[str, object]]) -> str:
    secs = sorted(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    spread = f" (range {secs[0]:.2f}-{secs[-1]:.2f}, {len(secs)} runs)" if len(secs) > 1 else ""
    rss = max(float(r["peak_rss_mb"]) for r in runs)  # type: ignore[arg-type]
    return f"{_median(runs, 'seconds'):.2f} s{spread}, peak RSS {rss:.0f} MB"


def _repeat(
    kinds: list[tuple[str, Path]], batch_rows: int, n: int
) -> dict[str, list[dict[str, object]]] | str:
    """Run each (kind, file) ``n`` times, alternating; a failure message if any run fails."""
    out: dict[str, list[dict[str, object]]] = {kind: [] for kind, _ in kinds}
    for _ in range(n):
        for kind, path in kinds:
            r = run(kind, path, batch_rows)
            if "failed" in r:
                return f"{kind}: FAILED {r['failed']}"
            out[kind].append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch-rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (median reported)")
    ap.add_argument("--skip-load", action="store_true", help="only time parse_cef")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.file, args.batch_rows)))
        return
    cef, nd = make_files(args.events)
    mb = cef.stat().st_size / 1e6
    print(f"events: {args.events}; CEF {mb:.0f} MB, NDJSON twin {nd.stat().st_size / 1e6:.0f} MB")
    parsed = _repeat([("parse", cef)], args.batch_rows, args.repeat)
    if isinstance(parsed, str):
        print(f"parse_cef: {parsed}")
    else:
        runs = parsed["parse"]
        s = _median(runs, "seconds")
        print(
            f"parse_cef: {_summary(runs)}, {args.events / s:,.0f} lines/s, {mb / s:.0f} MB/s, "
            f"errors {runs[0]['errors']}"
        )
    if args.skip_load:
        return
    loads = _repeat([("load-cef", cef), ("load-ndjson", nd)], args.batch_rows, args.repeat)
    if isinstance(loads, str):
        print(f"load: {loads}")
        return
    lc, ln = loads["load-cef"], loads["load-ndjson"]
    print(f"load CEF: {_summary(lc)}, {lc[0]['rows']} events, quarantined {lc[0]['quarantined']}")
    print(f"load NDJSON: {_summary(ln)}, {ln[0]['rows']} events")
    ratio = _median(ln, "seconds") / _median(lc, "seconds")
    print(f"CEF/NDJSON load throughput ratio: {ratio:.2f} (target >= 0.5)")
    cmp = run("compare", cef, args.batch_rows)
    diff = cmp.get("mismatches", cmp)
    total = sum(diff.values()) if isinstance(diff, dict) else diff
    print(f"differing canonical values CEF vs NDJSON: {total} (target 0; by column: {diff})")


# -- for bench/run.py (make bench): children and benchmark(ctx) ---------------------------------------

BARE_CEF_SQL = r"""
CREATE TABLE t AS SELECT string_split(line, '|') AS header,
       regexp_extract_all(split_part(line, '|', 8), '([A-Za-z0-9]+)=', 1) AS extension_keys
FROM read_csv($p, columns = {'line': 'VARCHAR'}, delim = chr(31), quote = '', escape = '',
              header = false, auto_detect = false)
"""


def child_load(path: str) -> dict[str, object]:
    """Child: ``auditlab.load`` (in memory) of a CEF file."""
    import auditlab

    t = time.perf_counter()
    ws = auditlab.load(path)
    return {"seconds": time.perf_counter() - t, "rows": ws.count()}


def child_bare(path: str) -> dict[str, object]:
    """Child: DuckDB reads the lines, splits the header on ``|`` and finds the extension keys."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    t = time.perf_counter()
    con.execute(BARE_CEF_SQL, {"p": path})
    return {
        "seconds": time.perf_counter() - t,
        "rows": con.execute("SELECT count(*) FROM t").fetchall()[0][0],
    }


def benchmark(ctx):  # type: ignore[no-untyped-def]
    """CEF load against DuckDB tokenising the same lines, same run."""
    from _harness import compare

    title = "CEF load (auditlab.load, in memory)"
    if ctx.events > ctx.memory_max:
        return {"title": title, "rows": [], "notes": [f"skipped above {ctx.memory_max:,} events: an in-memory "
                "load holds every event in RAM"]}  # fmt: skip
    row = compare(title, ctx.events, ("bench_cef:child_load", {"path": str(ctx.cef)}),
                  "DuckDB reads the lines, splits header and extension keys (no unescaping, no labels)",
                  ("bench_cef:child_bare", {"path": str(ctx.cef)}), repeat=ctx.repeat, check="rows")  # fmt: skip
    return {"title": title, "rows": [row], "notes": []}


if __name__ == "__main__":
    main()
