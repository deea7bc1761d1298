"""The benchmark harness: shared data, measurements in child processes, rows of results.

A benchmark module (``bench/bench_<name>.py``) has ``benchmark(ctx: Context) -> dict`` returning
``{"title": str, "rows": [row, ...], "notes": [str, ...]}``; ``bench/run.py`` calls each one and
writes ``docs/benchmarks.md``. A row is made by :func:`compare` (ours against the raw engine doing
the bare equivalent, same run, sides alternating) or :func:`row`.

Every measurement runs in a fresh interpreter (:func:`child`): ``module:function(**kwargs)`` returns
a dict with ``seconds`` (the timed part only, not imports or setup) and whatever else it reports;
the parent adds ``peak_rss_mb``, the child's peak resident memory (``VmHWM``, its threads included).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Context:
    """What every benchmark gets: the size, the shared inputs, the store, where to write."""

    events: int
    data_dir: Path
    ndjson: Path
    cef: Path
    store: Path
    work: Path
    repeat: int
    #: In-memory loads above this many events are skipped (they hold every event in RAM).
    memory_max: int = 3_000_000
    extra: dict[str, Any] = field(default_factory=dict)


class BenchError(RuntimeError):
    """A measurement's child process failed."""


class BenchTimeout(BenchError):
    """A measurement's child ran past ``BENCH_TIMEOUT`` seconds or ``BENCH_MAX_RSS_MB`` and was killed."""


#: Seconds one measurement may take before it is killed and reported as timed out.
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
#: Resident memory (MB) past which a measurement is killed (the machine is shared; 10M runs).
MAX_RSS_MB = float(os.environ.get("BENCH_MAX_RSS_MB", "12000"))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def child(target: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` (a module of ``bench/``) in a fresh interpreter.

    Returns:
        Its dict plus ``peak_rss_mb`` (the child's peak RSS).

    Raises:
        BenchError: the child failed (its last stderr line).
    """
    cmd = [sys.executable, str(HERE / "_harness.py"), target, json.dumps(kwargs, default=str)]
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, start_new_session=True
    )
    killed: list[str] = []
    done = threading.Event()

    def watch() -> None:  # kill the child past BENCH_TIMEOUT or BENCH_MAX_RSS_MB
        deadline = time.monotonic() + TIMEOUT
        while not done.wait(0.5):
            rss = _rss_mb(proc.pid)
            why = (
                f"killed after {TIMEOUT:.0f} s (BENCH_TIMEOUT)"
                if time.monotonic() > deadline
                else f"killed at {rss:,.0f} MB resident (BENCH_MAX_RSS_MB)"
                if rss > MAX_RSS_MB
                else ""
            )
            if why:
                killed.append(why)
                os.killpg(proc.pid, signal.SIGKILL)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = _drain(proc)
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if killed:
        raise BenchTimeout(f"{target}: {killed[0]}")
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise BenchError(f"{target}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    # The child's own high-water mark (VmHWM). wait4's ru_maxrss is not used: Linux carries the
    # parent's peak into a forked child across exec, so it never reads below the parent's.
    result["peak_rss_mb"] = result.pop("_vm_hwm_kb", usage.ru_maxrss) / 1024
    return result


def _vm_hwm_kb() -> int:
    """This process's peak resident memory (kB) from /proc/self/status; threads included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Read both pipes to the end without reaping the child (``wait4`` reaps it for its rusage)."""
    chunks: dict[str, bytes] = {}

    def read(name: str, pipe: Any) -> None:
        chunks[name] = pipe.read()

    threads = [
        threading.Thread(target=read, args=(n, p)) for n, p in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return chunks["out"], chunks["err"]


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def _median(runs: list[dict[str, Any]]) -> float:
    return float(statistics.median(r["seconds"] for r in runs))


def row(name: str, events: int, runs: list[dict[str, Any]], *, note: str = "") -> dict[str, Any]:
    """A row without a bare equivalent."""
    return {
        "benchmark": name,
        "events": events,
        "seconds": _median(runs),
        "runs": [round(r["seconds"], 3) for r in runs],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "baseline": None,
        "note": note,
    }


def compare(
    name: str,
    events: int,
    ours: tuple[str, dict[str, Any]],
    baseline_name: str,
    baseline: tuple[str, dict[str, Any]],
    *,
    repeat: int,
    note: str = "",
    check: str | None = None,
) -> dict[str, Any]:
    """Ours against the bare equivalent: ``repeat`` runs each, alternating; medians; their ratio.

    ``ratio`` is baseline seconds / our seconds (our throughput as a share of the raw engine's).
    ``check`` names a key both sides report that must be equal (e.g. ``rows``).
    """
    mine: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for _ in range(repeat):
        theirs.append(child(baseline[0], **baseline[1]))
        try:
            mine.append(child(ours[0], **ours[1]))
        except BenchTimeout as exc:
            base = _median(theirs)
            return {
                "benchmark": name, "events": events, "seconds": None, "runs": [], "peak_rss_mb": None,
                "baseline": baseline_name, "baseline_seconds": base, "ratio": None, "timed_out": True,
                "baseline_peak_rss_mb": max(r["peak_rss_mb"] for r in theirs),
                "note": (note + "; " if note else "") + f"TIMED OUT: {exc}",
            }  # fmt: skip
    if check and mine[0].get(check) != theirs[0].get(check):
        note = (
            note + "; " if note else ""
        ) + f"MISMATCH {check}: ours {mine[0].get(check)} vs {theirs[0].get(check)}"
    out = row(name, events, mine, note=note)
    out["reported"] = {k: v for k, v in mine[0].items() if k not in ("seconds", "peak_rss_mb")}
    base = _median(theirs)
    out.update(
        baseline=baseline_name,
        baseline_seconds=base,
        baseline_runs=[round(r["seconds"], 3) for r in theirs],
        baseline_peak_rss_mb=max(r["peak_rss_mb"] for r in theirs),
        ratio=base / out["seconds"] if out["seconds"] else None,
    )
    return out


def machine() -> dict[str, str]:
    """The machine and the versions that the figures depend on."""
    import duckdb
    import polars
    import pyarrow

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": f"duckdb {duckdb.__version__}, polars {polars.__version__}, pyarrow {pyarrow.__version__}",
        "load average at start (1/5/15 min)": load,
    }


def _main() -> None:
    target, kwargs = sys.argv[1], json.loads(sys.argv[2])
    module, function = target.split(":")
    import importlib

    fn = getattr(importlib.import_module(module), function)
    result = dict(fn(**kwargs))
    result["_vm_hwm_kb"] = _vm_hwm_kb()
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    _main()
