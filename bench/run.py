"""``make bench``: every benchmark at N events, written to ``docs/benchmarks.md``.

Usage: python bench/run.py [--events 1000000,10000000] [--data DIR] [--repeat R] [--only NAME,...]

Environment: ``BENCH_EVENTS`` (comma-separated sizes, e.g. ``100000`` for a quick run),
``BENCH_DATA`` (where inputs and stores go; default ``bench/_data``, git-ignored),
``BENCH_REPEAT`` (runs per side; default 3 up to 2M events, else 1), ``BENCH_TIMEOUT`` (seconds,
default 600) and ``BENCH_MAX_RSS_MB`` (default 12000): a measurement past either is killed and
reported as such.

For each N: generate N events as NDJSON and CEF (``_generate.py``, bounded memory, reused), build a
persistent store from the NDJSON (measured: the store load, against DuckDB writing the same events
as day-partitioned Parquet), then run each module of :data:`MODULES` that exists. A module's
``benchmark(ctx)`` returns rows (see ``_harness.py``); a module without one but with a command line
is run as ``python bench/<module>.py --events N`` and its output quoted. The section for N in
``docs/benchmarks.md`` is replaced; sections of other sizes are kept.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import HERE, ROOT, BenchError, Context, compare, machine

#: In report order. Missing modules are skipped with a note (bench_store: the streaming store
#: load; bench_explorer: the explorer's refresh path).
MODULES = [
    "bench_load",
    "bench_cef",
    "bench_store",
    "bench_query",
    "bench_investigate",
    "bench_export",
    "bench_explorer",
]
DOC = ROOT / "docs" / "benchmarks.md"
STANDALONE_TIMEOUT = 30 * 60


STORE_TITLE = "Store load (setup of the benchmarks below)"


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A partial run (``--only``) merged into the last full run of the same size.

    A section of the new run replaces the old section of the same module (or title); the old run's other
    sections are kept, in their order, and the header says which sections were re-run when.
    A reused store's placeholder section never replaces the old store-load row.
    """

    def key(section: dict[str, Any]) -> str:  # a module's section, whatever its title (e.g. FAILED)
        return str(section.get("module") or section["title"])

    fresh = {key(s): s for s in new["sections"]}
    if fresh.get(STORE_TITLE, {}).get("rows") == []:
        fresh.pop(STORE_TITLE)
    rerun = set(fresh)
    kept = [fresh.pop(key(s), s) for s in old["sections"]]
    merged = dict(old)
    merged["sections"] = kept + list(fresh.values())
    merged.setdefault("reruns", []).append(
        {
            "started": new["started"],
            "minutes": new["minutes"],
            "sections": [s["title"] for s in new["sections"] if key(s) in rerun],
            "load_average": new["machine"].get("load average at start (1/5/15 min)"),
        }
    )
    return merged


def build_store(store: str, path: str) -> dict[str, Any]:
    """Child: a fresh persistent store loaded from the NDJSON file (``store.ingest``)."""
    import auditlab

    shutil.rmtree(store, ignore_errors=True)
    st = auditlab.open_store(store)
    t0 = time.perf_counter()
    report = st.ingest(path)
    return {"seconds": time.perf_counter() - t0, "rows": report.loaded}


def bare_store(out: str, path: str) -> dict[str, Any]:
    """Child: DuckDB reads the NDJSON (explicit columns) and writes zstd Parquet partitioned by day."""
    import duckdb
    from bench_load import RAW_COLUMNS

    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    con.execute(
        f"COPY (SELECT *, strftime(created_at, '%Y-%m-%d') AS day FROM read_json($p, format = 'newline_delimited', "
        f"columns = $c)) TO '{out}' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)",
        {"p": path, "c": RAW_COLUMNS},
    )
    seconds = time.perf_counter() - t0
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchall()[0][0]
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "rows": rows}


def standalone(module: str, events: int) -> dict[str, Any]:
    """A module without ``benchmark(ctx)``: its own command line at N events, output quoted."""
    cmd = [sys.executable, str(HERE / f"{module}.py"), "--events", str(events)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        out, _ = proc.communicate(timeout=STANDALONE_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    text = out.decode(errors="replace").strip()
    return {
        "title": f"{module}.py (its own output)",
        "rows": [],
        "notes": [
            f"`{' '.join(['python', f'bench/{module}.py', '--events', str(events)])}` "
            f"(exit {proc.returncode}, {time.perf_counter() - t0:.0f} s):"
        ],
        "output": text[-6000:],
    }


def run_size(n: int, data: Path, repeat: int, only: set[str] | None) -> dict[str, Any]:
    from _generate import make_data

    started = datetime.now(UTC)
    info = machine()
    t0 = time.perf_counter()
    nd, cef = make_data(n, data)
    gen = time.perf_counter() - t0
    work = data / f"work_{n}"
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        events=n, data_dir=data, ndjson=nd, cef=cef, store=data / f"store_{n}", work=work, repeat=repeat
    )
    sections: list[dict[str, Any]] = []

    def wanted(name: str) -> bool:
        return only is None or name in only

    reuse = only is not None and "store" not in only and (ctx.store / "manifest.json").exists()
    if reuse:
        sections.append({"title": STORE_TITLE, "rows": [], "notes": [
            f"reused the store already built in {ctx.store} (`--only` without `store`)"]})  # fmt: skip
    elif wanted("store") or any(wanted(m) for m in ("bench_query", "bench_investigate", "bench_export")):
        try:
            row = compare("store load (open_store().ingest of the NDJSON)", n,
                          ("run:build_store", {"store": str(ctx.store), "path": str(nd)}),
                          "DuckDB read_json -> Parquet partitioned by day",
                          ("run:bare_store", {"out": str(work / "bare_store"), "path": str(nd)}),
                          repeat=1, check="rows",
                          note="once; the store it builds is what the query, investigation and export benchmarks read")  # fmt: skip
            sections.append({"title": STORE_TITLE, "rows": [row], "notes": []})
        except BenchError as exc:
            sections.append({"title": "Store load", "rows": [], "notes": [f"FAILED: {exc}"]})
    for name in [*MODULES, *sorted(p.stem for p in HERE.glob("bench_*.py") if p.stem not in MODULES)]:
        if not wanted(name):
            continue
        if not (HERE / f"{name}.py").exists():
            sections.append(
                {"title": name, "rows": [], "notes": [f"skipped: bench/{name}.py is not in this tree"]}
            )
            continue
        print(f"[bench {n:,}] {name} ...", file=sys.stderr, flush=True)
        t1 = time.perf_counter()
        try:
            module = importlib.import_module(name)
            result = dict(module.benchmark(ctx)) if hasattr(module, "benchmark") else standalone(name, n)
        except Exception as exc:  # one failing benchmark must not lose the others' figures
            traceback.print_exc()
            result = {"title": name, "rows": [], "notes": [f"FAILED: {type(exc).__name__}: {exc}"]}
        result.setdefault("notes", []).append(f"({time.perf_counter() - t1:.0f} s wall for this benchmark)")
        result["module"] = name
        sections.append(result)
    return {
        "events": n,
        "started": started.isoformat(timespec="seconds"),
        "minutes": round((time.perf_counter() - t0) / 60, 1),
        "machine": info,
        "inputs": {
            "ndjson_mb": round(nd.stat().st_size / 1e6),
            "cef_mb": round(cef.stat().st_size / 1e6),
            "generate_seconds": round(gen, 1),
        },
        "repeat": repeat,
        "sections": sections,
    }


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def _spread(runs: list[float] | None) -> str:
    if not runs or len(runs) < 2:
        return ""
    return f" ({_fmt_s(min(runs))}–{_fmt_s(max(runs))})"


def _rate(events: int, s: float | None) -> str:
    if not s:
        return "—"
    r = events / s
    return f"{r / 1e6:.2f} M/s" if r >= 1e6 else f"{r / 1e3:.0f} k/s"


def render(res: dict[str, Any]) -> str:
    n = res["events"]
    m = res["machine"]
    lines = [
        f"<!-- bench:{n} -->",
        f"## {n:,} events",
        "",
        f"Run {res['started']} ({res['minutes']} min in all), {res['repeat']} run(s) per side, median.",
        *[
            f"Re-run {r['started']} ({r['minutes']} min, load average {r['load_average']}): "
            + "; ".join(r["sections"])
            + "."
            for r in res.get("reruns", [])
        ],
        "",
        *[f"- {k}: {v}" for k, v in m.items()],
        f"- inputs: NDJSON {res['inputs']['ndjson_mb']:,} MB, CEF {res['inputs']['cef_mb']:,} MB "
        f"(generated or reused in {res['inputs']['generate_seconds']} s)",
        "",
        "| benchmark | events | auditlab | events/s | peak RSS | bare equivalent (same run) | bare | bare peak RSS | ratio |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    notes: list[str] = []
    for sec in res["sections"]:
        for r in sec["rows"]:
            base = r.get("baseline")
            ratio = f"{r['ratio']:.2f}×" if r.get("ratio") else "—"
            rss = f"{r['peak_rss_mb']:,.0f} MB" if r.get("peak_rss_mb") else "—"
            lines.append(
                f"| {r['benchmark']} | {r['events']:,} | {_fmt_s(r['seconds'])}{_spread(r.get('runs'))} "
                f"| {_rate(r['events'], r['seconds'])} "
                f"| {rss} | {base or '—'} | {_fmt_s(r.get('baseline_seconds'))}{_spread(r.get('baseline_runs'))} "
                f"| {(str(round(r['baseline_peak_rss_mb'])) + ' MB') if base else '—'} "
                f"| {ratio} |"
            )
            if r.get("note"):
                notes.append(f"- {r['benchmark']}: {r['note']}")
        for note in sec.get("notes", []):
            notes.append(f"- {sec['title']}: {note}")
        if sec.get("output"):
            notes.append(f"\n```\n{sec['output']}\n```\n")
    lines += ["", "Notes:", "", *notes, "", f"<!-- /bench:{n} -->", ""]
    return "\n".join(lines)


HEADER = """# Benchmarks

Written by `make bench` (`bench/run.py`; sizes from `BENCH_EVENTS`, default 1M and 10M). Each
figure is the median of the runs of one side (their range in brackets), each run in a fresh process;
sides alternate, so the two sides of a ratio share the machine's state. **ratio** = the bare equivalent's time / auditlab's
time: auditlab's throughput as a share of the raw engine doing the bare job (1.00× = as fast; the
bare job does less: no mapping, accounting, dedupe, escaping). **peak RSS** is the measuring
process's peak resident memory (`VmHWM`), imports and setup included. The machine is shared and
noisy: compare ratios, not absolute times, across runs. A partial re-run (`BENCH_ONLY=bench_investigate
make bench`) reuses the size's store, replaces only its own sections and is dated in the size's header.

"""


def write_doc(res: dict[str, Any], doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    if not text.startswith("# Benchmarks"):
        text = HEADER
    n = res["events"]
    start, end = f"<!-- bench:{n} -->", f"<!-- /bench:{n} -->"
    section = render(res)
    if start in text and end in text:
        a, b = text.index(start), text.index(end) + len(end) + 1
        text = text[:a] + section + text[b:]
    else:
        # keep sections in increasing size
        sizes = sorted({n, *(int(m) for m in re.findall(r"<!-- bench:(\d+) -->", text))})
        later = [s for s in sizes if s > n]
        marker = f"<!-- bench:{later[0]} -->" if later else None
        text = (
            text.replace(marker, section + "\n" + marker)
            if marker and marker in text
            else text.rstrip() + "\n\n" + section
        )
    doc.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default=os.environ.get("BENCH_EVENTS", "1000000,10000000"))
    ap.add_argument("--data", default=os.environ.get("BENCH_DATA", str(HERE / "_data")))
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "0")))
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""),
                    help="modules (and 'store') to re-run; merged into DATA/results_N.json, the store reused")  # fmt: skip
    ap.add_argument("--doc", default=str(DOC))
    ap.add_argument("--render", action="store_true", help="only rewrite the doc from DATA/results_N.json")
    args = ap.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    for n in (int(s.replace("_", "")) for s in args.events.split(",") if s.strip()):
        repeat = args.repeat or (3 if n <= 2_000_000 else 1)
        if args.render:
            write_doc(json.loads((Path(args.data) / f"results_{n}.json").read_text()), Path(args.doc))
            continue
        res = run_size(n, Path(args.data), repeat, only)
        saved = Path(args.data) / f"results_{n}.json"
        if only is not None and saved.exists():
            res = merge(json.loads(saved.read_text()), res)
        saved.write_text(json.dumps(res, indent=1, default=str))
        write_doc(res, Path(args.doc))
        print(render(res))


if __name__ == "__main__":
    main()
