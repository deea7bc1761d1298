"""Load throughput: auditlab.load of N NDJSON events against DuckDB's own read_json, same run.

Usage: python bench/bench_load.py [--events 1000000] [--repeat 3]

Both sides read the same file. The raw side is DuckDB ``read_json(..., columns=...)`` with an
explicit schema into a table (no mapping, no accounting, no dedupe, no raw column); auditlab does
the whole job: line accounting, mapping, normalisation, raw text, dedupe. Best of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

import duckdb

import auditlab

HERE = Path(__file__).parent / "_data"
ACTIONS = sorted(auditlab.ACTIONS)


def make_file(path: Path, n: int) -> None:
    if path.exists():
        return
    rng = random.Random(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for i in range(n):
            action = ACTIONS[i % len(ACTIONS)]
            rec = {
                "id": f"{i:012x}-{rng.getrandbits(48):012x}",
                "created_at": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z",
                "action": action,
                "outcome": "unsuccessful" if i % 17 == 0 else "successful",
                "error_message": "Invalid credentials" if i % 17 == 0 else None,
                "auth_context": "API" if i % 3 == 0 else "PORTAL",
                "user": {"id": f"u{i % 500}", "email": f"user{i % 500}@acme.example"},
                "ip_address": f"198.51.100.{i % 250}",
                "target": {"type": action.split(".")[0], "id": f"t{i % 9000}", "name": f"target-{i % 9000}"},
                "group": {"id": f"g{i % 12}", "name": f"group-{i % 12}"},
                "project": {"name": f"project-{i % 40}"},
                "package": None,
                "version": None,
                "request_id": f"req-{i:010d}",
                "details": {"changes": [{"field": "name", "old": "a", "new": "b"}]} if i % 5 == 0 else None,
            }
            fh.write(json.dumps(rec) + "\n")


RAW_COLUMNS = {
    "id": "VARCHAR", "created_at": "TIMESTAMPTZ", "action": "VARCHAR", "outcome": "VARCHAR",
    "error_message": "VARCHAR", "auth_context": "VARCHAR", "user": "JSON", "ip_address": "VARCHAR",
    "target": "JSON", "group": "JSON", "project": "JSON", "package": "JSON", "version": "JSON",
    "request_id": "VARCHAR", "details": "JSON",
}  # fmt: skip


def raw_duckdb(path: Path) -> float:
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM read_json($p, format = 'newline_delimited', columns = $c)",
        {"p": str(path), "c": RAW_COLUMNS},
    )
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


def raw_duckdb_with_text(path: Path) -> float:
    """The same typed read plus each line's text kept beside it (what `raw` costs on its own)."""
    con = duckdb.connect()
    t = time.perf_counter()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM read_json($p, format = 'newline_delimited', columns = $c)",
        {"p": str(path), "c": RAW_COLUMNS},
    )
    con.execute("CREATE TABLE r AS SELECT json FROM read_ndjson_objects($p)", {"p": str(path)})
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


def ours(path: Path) -> tuple[float, int]:
    t = time.perf_counter()
    ws = auditlab.load(path)
    elapsed = time.perf_counter() - t
    return elapsed, ws.count()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = HERE / f"events_{args.events}.ndjson"
    make_file(path, args.events)
    size = path.stat().st_size / 1e6
    raw, text, runs = [], [], []
    for _ in range(args.repeat):  # sides alternate, so a ratio's sides share the machine's state
        raw.append(raw_duckdb(path))
        text.append(raw_duckdb_with_text(path))
        runs.append(ours(path))
    raw_t, text_t = statistics.median(raw), statistics.median(text)
    our_t = statistics.median(t for t, _ in runs)
    assert runs[0][1] == args.events, runs[0][1]
    print(f"medians of {args.repeat} runs per side")
    print(f"file: {args.events} events, {size:.0f} MB")
    print(f"duckdb read_json (explicit columns): {raw_t:.2f} s  ({args.events / raw_t / 1e6:.2f} M events/s)")
    print(f"  + each line's text kept (raw):       {text_t:.2f} s")
    print(
        f"auditlab.load (map, account, dedupe): {our_t:.2f} s  ({args.events / our_t / 1e6:.2f} M events/s)"
    )
    print(f"throughput ratio auditlab / raw duckdb: {raw_t / our_t:.2f}x")
    print(f"throughput ratio auditlab / raw duckdb keeping the text: {text_t / our_t:.2f}x")


# -- for bench/run.py (make bench): children and benchmark(ctx) ---------------------------------------


def child_ours(path: str) -> dict[str, object]:
    """Child: ``auditlab.load`` (in memory) of the file."""
    elapsed, n = ours(Path(path))
    return {"seconds": elapsed, "rows": n}


def child_raw(path: str, text: bool = False) -> dict[str, object]:
    """Child: DuckDB ``read_json`` with explicit columns (``text``: each line's text kept too)."""
    return {"seconds": (raw_duckdb_with_text if text else raw_duckdb)(Path(path))}


def benchmark(ctx):  # type: ignore[no-untyped-def]
    """NDJSON load against DuckDB read_json (and read_json keeping each line's text), same run."""
    from _harness import compare

    title = "NDJSON load (auditlab.load, in memory)"
    if ctx.events > ctx.memory_max:
        return {"title": title, "rows": [], "notes": [f"skipped above {ctx.memory_max:,} events: an in-memory "
                "load holds every event in RAM; see the store load for this size"]}  # fmt: skip
    ours_ = ("bench_load:child_ours", {"path": str(ctx.ndjson)})
    rows = [
        compare(title, ctx.events, ours_, "DuckDB read_json (explicit columns)",
                ("bench_load:child_raw", {"path": str(ctx.ndjson)}), repeat=ctx.repeat),
        compare(title, ctx.events, ours_, "DuckDB read_json + each line's text",
                ("bench_load:child_raw", {"path": str(ctx.ndjson), "text": True}), repeat=ctx.repeat),
    ]  # fmt: skip
    return {"title": title, "rows": rows, "notes": []}


if __name__ == "__main__":
    main()
