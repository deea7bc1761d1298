"""The persistent store: atomic loads (also under SIGKILL), one writer, many readers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

import auditlab
from auditlab.errors import StoreError, StoreLockedError


def events_file(path: Path, prefix: str, n: int, *, day: int = 5) -> Path:
    lines = (
        json.dumps(
            {
                "id": f"{prefix}{i}",
                "created_at": f"2026-10-{day:02d}T{i % 24:02d}:00:00Z",
                "action": "user.login",
            }
        )
        for i in range(n)
    )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_reopen_and_dedupe(tmp_path):
    store = auditlab.open_store(tmp_path / "s")
    r1 = store.ingest(events_file(tmp_path / "a.ndjson", "a", 50))
    r2 = store.ingest(events_file(tmp_path / "b.ndjson", "a", 80))  # a0..a49 again, a50..a79 new
    assert (r1.loaded, r2.loaded, r2.duplicates, r2.id_collisions) == (50, 30, 50, 0)
    reopened = auditlab.open_store(tmp_path / "s", create=False)
    assert reopened.count() == 80
    assert len(reopened.loads) == 2


def test_layout_is_hive_parquet_readable_by_other_engines(tmp_path):
    store = auditlab.open_store(tmp_path / "s")
    store.ingest(
        events_file(tmp_path / "a.ndjson", "a", 30), events_file(tmp_path / "b.ndjson", "b", 20, day=7)
    )
    days = sorted(p.name for p in (tmp_path / "s" / "events").iterdir())
    assert days == ["day=2026-10-05", "day=2026-10-07"]
    frame = pl.read_parquet(tmp_path / "s" / "events" / "**" / "*.parquet", hive_partitioning=True)
    assert frame.height == 50 and set(frame["event_id"]) == set(store.to_polars()["event_id"])


def test_open_refuses_foreign_folder(tmp_path):
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "other.txt").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        auditlab.open_store(tmp_path / "f")
    with pytest.raises(StoreError, match="not an auditlab store"):
        auditlab.open_store(tmp_path / "g", create=False)


WRITER = textwrap.dedent(
    """
    import pathlib, sys, time, auditlab
    store = auditlab.open_store(sys.argv[1])
    mode = sys.argv[3]
    signal = pathlib.Path(sys.argv[1]).parent / "writer.say"
    def say(word):
        with open(signal, "a") as fh:
            fh.write(word + "\\n")
    def pause():
        say("READY")
        time.sleep(60)
    say("STARTED")
    store.ingest(sys.argv[2], _before_commit=pause if mode == "commit" else None)
    say("DONE")
    """
)


def start_writer(store: Path, data: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store), str(data), mode],
        stderr=open(store.parent / "writer.err", "w"),
    )


def said(proc: subprocess.Popen[bytes], store: Path, word: str) -> bool:
    """Wait until the writer says ``word`` (through a file: its stdout is not needed)."""
    signal_file = store.parent / "writer.say"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if signal_file.exists() and word in signal_file.read_text().split():
            return True
        if proc.poll() is not None:
            raise AssertionError(
                f"writer exited {proc.returncode}: {(store.parent / 'writer.err').read_text()[-2000:]}"
            )
        time.sleep(0.02)
    raise AssertionError(f"writer never said {word}")


def test_second_writer_is_refused_while_one_loads(tmp_path):
    root = tmp_path / "s"
    store = auditlab.open_store(root)
    proc = start_writer(root, events_file(tmp_path / "a.ndjson", "a", 10), "commit")
    try:
        assert said(proc, root, "STARTED")
        assert said(proc, root, "READY")  # the writer holds the lock, paused
        with pytest.raises(StoreLockedError, match="another process is loading"):
            store.ingest(events_file(tmp_path / "b.ndjson", "b", 5))
        reader = auditlab.open_store(tmp_path / "s", create=False)  # readers are never blocked
        assert reader.count() == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("when", ["before-commit", "midway"])
def test_sigkill_leaves_exactly_the_earlier_loads(tmp_path, when):
    root = tmp_path / "s"
    store = auditlab.open_store(root)
    store.ingest(events_file(tmp_path / "first.ndjson", "f", 1000))
    before = sorted(store.to_polars()["event_id"])
    big = events_file(tmp_path / "big.ndjson", "big", 1_000_000)
    proc = start_writer(root, big, "commit" if when == "before-commit" else "midway")
    assert said(proc, root, "STARTED")
    if when == "before-commit":
        assert said(proc, root, "READY")  # files written, manifest not yet replaced
        assert len(list((root / "events").rglob("*.parquet"))) > 1
    else:
        time.sleep(0.4)  # somewhere in reading or normalising
        assert proc.poll() is None, "the load finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reopened = auditlab.open_store(root, create=False)
    assert sorted(reopened.to_polars()["event_id"]) == before
    assert len(reopened.loads) == 1
    # the next writer cleans up what the killed one left, and loads normally
    report = reopened.ingest(events_file(tmp_path / "next.ndjson", "n", 10))
    assert report.loaded == 10 and reopened.count() == 1010
    on_disk = {str(p.relative_to(root)) for p in (root / "events").rglob("*.parquet")}
    assert on_disk == {f for load in reopened.loads for f in load["events"]}
    assert not (root / "_staging").exists()


def test_streamed_load_stages_batches_and_writes_one_file_per_day(tmp_path):
    settings = auditlab.Settings(chunk_bytes=2000, memory_limit="300MB")  # ~20 lines a batch
    store = auditlab.open_store(tmp_path / "s", settings=settings)
    assert store.sql("SELECT current_setting('memory_limit')").fetchall() == [("286.1 MiB",)]
    a = events_file(tmp_path / "a.ndjson", "a", 300)
    b = events_file(tmp_path / "b.ndjson", "b", 200, day=6)
    seen: dict[str, list[str]] = {}

    def look() -> None:
        (load,) = (tmp_path / "s" / "_staging").iterdir()
        staged = sorted(
            p.relative_to(load / "batches").as_posix() for p in (load / "batches").rglob("*.parquet")
        )
        seen["staged"] = staged

    again = tmp_path / "again.ndjson"
    again.write_bytes(a.read_bytes())
    report = store.ingest(a, b, again, _before_commit=look)
    assert (report.loaded, report.duplicates) == (500, 300)
    days = {s.split("/")[1] for s in seen["staged"] if s.startswith("events/")}
    assert days == {"day=2026-10-05", "day=2026-10-06"} and len(seen["staged"]) > 20  # many batches
    (load,) = store.loads
    assert sorted(load["events"]) == [
        f"events/day=2026-10-05/{load['id']}-part0.parquet",
        f"events/day=2026-10-06/{load['id']}-part0.parquet",
    ]
    assert not (tmp_path / "s" / "_staging").exists()
    # each day's file is sorted by timestamp, then event_id
    frame = pl.read_parquet(tmp_path / "s" / load["events"][0])
    assert frame["timestamp"].is_sorted() and frame.height == 300


def test_streamed_load_quarantines_and_accounts_like_memory(tmp_path):
    good = json.dumps({"id": "g1", "created_at": "2026-10-05T00:00:00Z", "action": "user.login"})
    lines = [good, "not json", '{"id": "x", "action": "user.login"}', good, "[1]", ""]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines) + "\n")
    settings = auditlab.Settings(chunk_bytes=64)  # about a line a batch: many staged batches
    store = auditlab.open_store(tmp_path / "s", settings=settings)
    r = store.ingest(path)
    m = auditlab.load(path, settings=settings).last_report
    assert (r.lines, r.loaded, r.duplicates, r.quarantined) == (5, 1, 1, 3)
    assert r.to_dict() == m.to_dict()
    rows = store.quarantine().fetchall()
    assert [(row[1], row[2]) for row in rows] == [
        (2, "not valid JSON"),
        (3, "no timestamp"),
        (5, "not a JSON object (array)"),
    ]
