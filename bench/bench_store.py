"""Store load: time and peak RSS of `Store.ingest` of N NDJSON events, against DuckDB's bare
``read_json(columns=...)`` -> ``COPY`` to Parquet of the same file, in the same run.

Usage: python bench/bench_store.py [--events 1000000] [--data DIR] [--investigate] [--json]

Every measurement runs in a child process of its own, so its peak RSS (``ru_maxrss``) is its
alone. The raw side reads with an explicit schema and writes one Parquet file: no mapping,
accounting, dedupe, raw text, partitioning or commit. auditlab does the whole job, in bounded
memory (``Settings.memory_limit``). ``--investigate`` also times ``run_all`` over the new store
(what ``auditlab investigate --store`` does) and a three-condition count.

For the harness: ``main(argv)`` returns the results as a dict (and prints them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from bench_load import RAW_COLUMNS, make_file  # noqa: E402

_CHILD = r"""
import json, resource, sys, time
kind, path, out, limit = sys.argv[1:5]
t = time.perf_counter()
result = {}
if kind == "raw":
    import duckdb
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM read_json($p, format = 'newline_delimited', columns = $c)) TO '"
        + out.replace("'", "''") + "' (FORMAT parquet, COMPRESSION zstd)",
        {"p": path, "c": json.loads(sys.argv[5])},
    )
elif kind == "store":
    import auditlab
    settings = auditlab.Settings(memory_limit=limit)
    report = auditlab.open_store(out, settings=settings).ingest(path)
    result = {"loaded": report.loaded, "duplicates": report.duplicates}
elif kind == "investigate":
    import auditlab
    store = auditlab.open_store(out, create=False, settings=auditlab.Settings(memory_limit=limit))
    results = auditlab.run_all(store)
    result = {"findings": sum(len(r.findings) for r in results)}
elif kind == "count":
    import auditlab
    store = auditlab.open_store(out, create=False, settings=auditlab.Settings(memory_limit=limit))
    result = {"count": store.query("action is user.login; outcome is failure; ip_address is 198.51.100.7; all time").count()}
result["seconds"] = time.perf_counter() - t
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def _child(kind: str, path: Path, out: Path, limit: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(path), str(out), limit, json.dumps(RAW_COLUMNS)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {kind}: {result}", file=sys.stderr)
    return result


def run(
    events: int, *, data: Path, memory_limit: str = "1GB", investigate: bool = False, keep: bool = False
) -> dict[str, Any]:
    """Measure one store load of ``events`` events (the file is made once under ``data``)."""
    path = data / f"events_{events}.ndjson"
    make_file(path, events)
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=data))
    try:
        raw = _child("raw", path, work / "raw.parquet", memory_limit)
        ours = _child("store", path, work / "store", memory_limit)
        if ours["loaded"] != events:
            raise RuntimeError(f"loaded {ours['loaded']} of {events} events")
        results: dict[str, Any] = {
            "events": events,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "memory_limit": memory_limit,
            "raw_duckdb_copy": {k: round(v, 2) for k, v in raw.items()},
            "store_load": {k: round(v, 2) for k, v in ours.items()},
            "events_per_s": round(events / ours["seconds"]),
            # throughput ratio: auditlab's store load at this fraction of DuckDB's bare read + COPY
            "ratio_vs_raw": round(raw["seconds"] / ours["seconds"], 3),
        }
        if investigate:
            results["investigate"] = {
                k: round(v, 2) for k, v in _child("investigate", path, work / "store", memory_limit).items()
            }
            results["count_query"] = {
                k: round(v, 3) for k, v in _child("count", path, work / "store", memory_limit).items()
            }
        if keep:
            results["store"] = str(work / "store")
        return results
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=HERE / "_data", help="where the input file is made")
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--investigate", action="store_true", help="also time run_all and a count on the store")
    ap.add_argument("--keep", action="store_true", help="keep the store (its path is in the results)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    results = run(
        args.events,
        data=args.data,
        memory_limit=args.memory_limit,
        investigate=args.investigate,
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
        for key in ("investigate", "count_query"):
            if key in results:
                print(f"{key}: {results[key]}")
    return results


if __name__ == "__main__":
    main()
