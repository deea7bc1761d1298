"""Store load: time and peak RSS of `Store.ingest` of N NDJSON events, against DuckDB's bare
``read_json(columns=...)`` -> ``COPY`` to Parquet of the same file, in the same run.

Usage: python bench/bench_store.py [--events 1000000] [--data DIR] [--reload] [--investigate] [--json]

Every measurement runs in a child process of its own, so its peak RSS (``ru_maxrss``) is its
alone. The raw side reads with an explicit schema and writes one Parquet file: no mapping,
accounting, dedupe, raw text, partitioning or commit. auditlab does the whole job, in bounded
memory (``Settings.memory_limit``). ``--investigate`` also times ``run_all`` over the new store
(what ``auditlab investigate --store`` does) and a three-condition count.

For the harness: ``main(argv)`` returns the results as a dict (and prints them), and
``benchmark(ctx)`` gives ``bench/run.py`` its rows (store load and full re-load vs the bare COPY).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from bench_load import RAW_COLUMNS, make_file  # noqa: E402


def bare_copy(out: str, path: str) -> dict[str, Any]:
    """Child: DuckDB reads the NDJSON with an explicit schema and COPYs it to one zstd Parquet file."""
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    ((rows,),) = con.execute(
        "COPY (SELECT * FROM read_json($p, format = 'newline_delimited', columns = $c)) TO '"
        + out.replace("'", "''")
        + "' (FORMAT parquet, COMPRESSION zstd)",
        {"p": path, "c": RAW_COLUMNS},
    ).fetchall()
    return {"seconds": time.perf_counter() - t, "rows": rows}


def store_load(store: str, path: str, memory_limit: str = "1GB") -> dict[str, Any]:
    """Child: ``open_store(store).ingest(path)`` (a fresh store loads; an existing one re-loads)."""
    import auditlab

    st = auditlab.open_store(store, settings=auditlab.Settings(memory_limit=memory_limit))
    t = time.perf_counter()
    report = st.ingest(path)
    return {
        "seconds": time.perf_counter() - t,
        "rows": report.loaded + report.duplicates,
        "loaded": report.loaded,
        "duplicates": report.duplicates,
    }


def investigate(store: str, memory_limit: str = "1GB") -> dict[str, Any]:
    """Child: every investigation over the whole store, as ``auditlab investigate --store``."""
    import auditlab

    st = auditlab.open_store(store, create=False, settings=auditlab.Settings(memory_limit=memory_limit))
    t = time.perf_counter()
    results = auditlab.run_all(st)
    return {"seconds": time.perf_counter() - t, "findings": sum(len(r.findings) for r in results)}


def count_query(store: str, memory_limit: str = "1GB") -> dict[str, Any]:
    """Child: a three-condition count over the whole store."""
    import auditlab

    st = auditlab.open_store(store, create=False, settings=auditlab.Settings(memory_limit=memory_limit))
    t = time.perf_counter()
    n = st.query("outcome is failure; auth_context is api; ip_address is 198.51.100.7; all time").count()
    return {"seconds": time.perf_counter() - t, "count": n}


def _child(function: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``function(**kwargs)`` of this module in a fresh interpreter, with its peak RSS
    (``ru_maxrss`` of that process: Python, Arrow and DuckDB's threads; nothing else)."""
    code = (
        f"import json, resource, sys; sys.path.insert(0, {str(HERE)!r}); import bench_store; "
        f"r = bench_store.{function}(**json.loads(sys.argv[1])); "
        "r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print(json.dumps(r))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{function} failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {function}: {result}", file=sys.stderr)
    return result


def _rounded(result: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def run(
    events: int,
    *,
    data: Path,
    memory_limit: str = "1GB",
    investigate: bool = False,
    reload: bool = False,
    keep: bool = False,
) -> dict[str, Any]:
    """Measure one store load of ``events`` events (the file is made once under ``data``)."""
    path = data / f"events_{events}.ndjson"
    make_file(path, events)
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=data))
    store = str(work / "store")
    try:
        raw = _child("bare_copy", out=str(work / "raw.parquet"), path=str(path))
        ours = _child("store_load", store=store, path=str(path), memory_limit=memory_limit)
        if ours["loaded"] != events:
            raise RuntimeError(f"loaded {ours['loaded']} of {events} events")
        results: dict[str, Any] = {
            "events": events,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "memory_limit": memory_limit,
            "raw_duckdb_copy": _rounded(raw),
            "store_load": _rounded(ours),
            "events_per_s": round(events / ours["seconds"]),
            # throughput ratio: auditlab's store load at this fraction of DuckDB's bare read + COPY
            "ratio_vs_raw": round(raw["seconds"] / ours["seconds"], 3),
        }
        if reload:  # every event again: all duplicates, the dedupe's worst case
            again = _child("store_load", store=store, path=str(path), memory_limit=memory_limit)
            results["store_reload"] = _rounded(again)
        if investigate:
            results["investigate"] = _rounded(_child("investigate", store=store, memory_limit=memory_limit))
            results["count_query"] = _rounded(_child("count_query", store=store, memory_limit=memory_limit))
        if keep:
            results["store"] = store
        return results
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def benchmark(ctx: Any) -> dict[str, Any]:
    """For ``bench/run.py``: the streamed store load and a full re-load (every line a duplicate),
    each against DuckDB's bare read_json -> COPY to Parquet of the same file, same run."""
    from _harness import compare  # the harness's module (bench/_harness.py)

    store = ctx.work / "bench_store"
    shutil.rmtree(store, ignore_errors=True)
    bare = ("bench_store:bare_copy", {"out": str(ctx.work / "bare_store.parquet"), "path": str(ctx.ndjson)})
    load = ("bench_store:store_load", {"store": str(store), "path": str(ctx.ndjson)})
    first = compare(
        "store load, streamed (memory_limit 1GB)", ctx.events, load, "DuckDB read_json -> COPY Parquet",
        bare, repeat=1, check="rows",
    )  # fmt: skip
    again = compare(
        "store re-load of the same file (all duplicates)", ctx.events, load, "DuckDB read_json -> COPY Parquet",
        bare, repeat=1, check="rows",
    )  # fmt: skip
    shutil.rmtree(store, ignore_errors=True)
    return {
        "title": "Store load in bounded memory (bench_store)",
        "rows": [first, again],
        "notes": [
            "Peak RSS is the whole child process; the store load must not grow with the input "
            "(Settings.memory_limit, default 1GB, spilling inside _staging/)."
        ],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=HERE / "_data", help="where the input file is made")
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--investigate", action="store_true", help="also time run_all and a count on the store")
    ap.add_argument("--reload", action="store_true", help="also re-load the same file (all duplicates)")
    ap.add_argument("--keep", action="store_true", help="keep the store (its path is in the results)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    results = run(
        args.events,
        data=args.data,
        memory_limit=args.memory_limit,
        investigate=args.investigate,
        reload=args.reload,
        keep=args.keep,
    )
    if args.json:
        print(json.dumps(results))
    else:
        raw, ours = results["raw_duckdb_copy"], results["store_load"]
        print(
            f"file: {results['events']} events, {results['file_mb']} MB; memory_limit {results['memory_limit']}"
        )
        print(f"duckdb read_json -> COPY parquet: {raw['seconds']} s, peak RSS {raw['peak_rss_mb']} MB")
        print(f"auditlab store load:             {ours['seconds']} s, peak RSS {ours['peak_rss_mb']} MB")
        print(f"throughput ratio auditlab / raw duckdb: {results['ratio_vs_raw']}x")
        for key in ("store_reload", "investigate", "count_query"):
            if key in results:
                print(f"{key}: {results[key]}")
    return results


if __name__ == "__main__":
    main()
