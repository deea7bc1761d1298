"""The benchmark harness (bench/): its inputs, a measurement in a child process, the report's sections.

Speed is never asserted here (that is bench/'s job, ``make bench``); this keeps the harness working.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import _generate  # noqa: E402
import _harness  # noqa: E402
import run  # noqa: E402

import auditlab  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _generate.make_data(1200, tmp_path_factory.mktemp("bench"))


def test_generated_inputs_load_to_the_same_events(inputs: tuple[Path, Path]) -> None:
    nd, cef = inputs
    a, b = auditlab.load(nd), auditlab.load(cef)
    assert a.count() == b.count() == 1200
    assert a.last_report is not None and a.last_report.quarantined == 0
    cols = "event_id, timestamp, action, outcome, user_email, ip_address, group_name, details"
    assert (
        a.sql(f"SELECT {cols} FROM events ORDER BY event_id").fetchall()
        == b.sql(f"SELECT {cols} FROM events ORDER BY event_id").fetchall()
    )


def test_a_child_reports_its_result_and_peak_memory(inputs: tuple[Path, Path]) -> None:
    out = _harness.child("bench_load:child_ours", path=str(inputs[0]))
    assert out["rows"] == 1200
    assert out["seconds"] > 0 and 50 < out["peak_rss_mb"] < 4000
    with pytest.raises(_harness.BenchError, match="bench_load:nope"):
        _harness.child("bench_load:nope")


def _result(n: int, seconds: float) -> dict[str, object]:
    row = {"benchmark": "x", "events": n, "seconds": seconds, "peak_rss_mb": 100.0, "baseline": "bare",
           "baseline_seconds": seconds / 2, "baseline_peak_rss_mb": 50.0, "ratio": 0.5, "note": ""}  # fmt: skip
    return {"events": n, "started": "t", "minutes": 1.0, "machine": {"cpu": "c"}, "repeat": 1,
            "inputs": {"ndjson_mb": 1, "cef_mb": 1, "generate_seconds": 0.1},
            "sections": [{"title": "X", "rows": [row], "notes": ["skipped: nothing"]}]}  # fmt: skip


def test_the_report_replaces_its_size_and_keeps_the_others(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    run.write_doc(_result(10_000_000, 4.0), doc)
    run.write_doc(_result(1_000_000, 2.0), doc)
    run.write_doc(_result(1_000_000, 3.0), doc)
    text = doc.read_text()
    assert text.startswith("# Benchmarks")
    assert text.index("## 1,000,000 events") < text.index("## 10,000,000 events")
    assert text.count("## 1,000,000 events") == 1
    assert "| x | 1,000,000 | 3.00 s | 333 k/s | 100 MB | bare | 1.50 s | 50 MB | 0.50× |" in text
    assert "| x | 10,000,000 | 4.00 s | 2.50 M/s |" in text
    assert "- X: skipped: nothing" in text


def test_a_partial_rerun_replaces_its_sections_and_keeps_the_others() -> None:
    old = _result(1_000_000, 2.0)
    old["sections"] = [
        {"title": run.STORE_TITLE, "rows": [{"benchmark": "store"}], "notes": []},
        {"title": "X", "rows": [{"benchmark": "x-old"}], "notes": []},
        {"title": "Y", "rows": [{"benchmark": "y-old"}], "notes": []},
    ]
    new = _result(1_000_000, 1.0)
    new["started"] = "later"
    new["machine"] = {"load average at start (1/5/15 min)": "1 / 2 / 3"}
    new["sections"] = [
        {"title": run.STORE_TITLE, "rows": [], "notes": ["reused"]},
        {"title": "Y", "rows": [{"benchmark": "y-new"}], "notes": []},
        {"title": "Z", "rows": [{"benchmark": "z-new"}], "notes": []},
    ]
    merged = run.merge(old, new)
    assert [(s["title"], s["rows"][0]["benchmark"]) for s in merged["sections"]] == [
        (run.STORE_TITLE, "store"),
        ("X", "x-old"),
        ("Y", "y-new"),
        ("Z", "z-new"),
    ]
    assert merged["started"] == "t" and merged["reruns"][0]["started"] == "later"
    text = run.render({**merged, "sections": []})
    assert "Re-run later (1.0 min, load average 1 / 2 / 3): " in text


def test_the_explorer_benchmark_sides_agree_on_a_store(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    store = tmp_path / "store"
    auditlab.open_store(store).ingest(inputs[0])
    kw = {"store": str(store), "scenario": "all time, no filter", "repeat": 1}
    ours = _harness.child("bench_explorer:child_ours", **kw)
    hand = _harness.child("bench_explorer:child_hand", **kw)
    assert ours["result"] == hand["result"] == [1200, 50, 1200]
