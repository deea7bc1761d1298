"""How long a 30-day sync of the sample takes against the fake Portal, against a plain store load.

Run: .venv/bin/python bench/bench_sync.py [--runs 5]. Medians of N runs; the ratio is against the
same ZIP (the fake's NDJSON export of the 30 days) ingested straight into a new store in the same
run, so the machine's noise cancels out. The fake answers the first status poll with a finished
job and polls are set to 10 ms, so this measures the client, the HTTP path and the ingest.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import auditlab
from auditlab.portal.settings import resolve_settings
from auditlab.testing.fake_portal import FakePortal

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "portal_audit_export.zip"
START, END = "2026-10-02T00:00:00Z", "2026-11-01T00:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    # make bench passes every standalone benchmark its size; this one always syncs the sample's 17,050
    parser.add_argument("--events", type=int, default=None, help="ignored: the sync uses the bundled sample")
    args = parser.parse_args()
    sync_times, load_times, export_times = [], [], []
    with FakePortal(SAMPLE, token="bench") as portal:
        portal.faults.slow_status = 0
        settings = resolve_settings(
            host=portal.url,
            server="demo",
            organization="acme",
            token="bench",
            environ={},
            use_keyring=False,
            poll_initial=0.01,
        )
        for _ in range(args.runs):
            work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
            t = time.perf_counter()
            result = auditlab.sync(
                work / "s", settings=settings, start=START, end=END, keep_downloads=work / "zips"
            )
            sync_times.append(time.perf_counter() - t)
            assert result.loaded == 17050, result
            (zip_path,) = (work / "zips").glob("*.zip")
            t = time.perf_counter()
            auditlab.open_store(work / "raw").ingest(zip_path)
            load_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            portal.select(
                auditlab.filters.model.parse_datetime(START), auditlab.filters.model.parse_datetime(END)
            )
            export_times.append(time.perf_counter() - t)
            shutil.rmtree(work)
    s, lo = statistics.median(sync_times), statistics.median(load_times)
    print(f"30-day sync (17050 events, 1 window, 1 job), median of {args.runs}: {s:.2f} s")
    print(f"same ZIP ingested into a new store:          {lo:.2f} s  (sync / load = {s / lo:.2f})")
    print(f"fake Portal's selection of the events:       {statistics.median(export_times):.2f} s")
    print("runs sync:", [round(x, 2) for x in sync_times], "load:", [round(x, 2) for x in load_times])


if __name__ == "__main__":
    main()
