"""auditlab.sync against the fake Portal: windows, the mark, faults, abort and SIGKILL, the token."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import END, ROOT, START, TOKEN
from hypothesis import given
from hypothesis import strategies as st

import auditlab
from auditlab.errors import AuthError, ExportJobError, StoreLockedError
from auditlab.filters.model import parse_datetime
from auditlab.portal.sync import STATE_FILE, _sync_lock, plan_windows, read_state

NOW = parse_datetime(END)


def _ids(store):
    rows = store.sql("SELECT event_id, count(*) FROM events GROUP BY event_id HAVING count(*) > 1").fetchall()
    return store.count(), rows


def test_30_day_sync_loads_every_event_once_and_keeps_a_mark(portal, fast, tmp_path):
    result = auditlab.sync(tmp_path / "s", settings=fast(portal), start=START, end=END)
    expected = portal.count(START, END)
    assert expected == 17050
    assert (result.windows, result.jobs, result.loaded, result.duplicates, result.quarantined) == (
        1,
        1,
        expected,
        0,
        0,
    )
    store = auditlab.open_store(tmp_path / "s")
    assert _ids(store) == (expected, [])
    state = read_state(tmp_path / "s")
    (mark,) = state["marks"].values()
    assert (mark["from"], mark["to"]) == (START, END)
    assert [e["id"] for e in state["exports"]] == [e.id for e in result.exports] == list(portal.jobs)
    assert result.exports[0].loaded == expected and result.mark == END
    assert "exports created:" in str(result) and "17050 loaded" in str(result)


def test_next_sync_starts_at_the_mark_minus_overlap_and_dedupes_it(portal, fast, tmp_path):
    settings = fast(portal)
    auditlab.sync(tmp_path, settings=settings, start=START, end="2026-10-20T00:00:00Z")
    overlap = timedelta(hours=6)
    again = auditlab.sync(tmp_path, settings=settings, since="30d", now=NOW, overlap=overlap)
    assert (again.start, again.end) == ("2026-10-19T18:00:00Z", END)
    in_overlap = portal.count("2026-10-19T18:00:00Z", "2026-10-20T00:00:00Z")
    assert in_overlap > 0
    assert again.duplicates == in_overlap
    assert again.loaded == portal.count("2026-10-20T00:00:00Z", END)
    assert _ids(auditlab.open_store(tmp_path)) == (portal.count(START, END), [])
    (mark,) = read_state(tmp_path)["marks"].values()
    assert (mark["from"], mark["to"]) == (START, END)


def test_a_long_range_is_cut_into_windows(portal, fast, tmp_path):
    result = auditlab.sync(tmp_path, settings=fast(portal), start=START, end=END, window=timedelta(days=10))
    posts = [
        (r.body["datetime_start"], r.body["datetime_end"]) for r in portal.requests if r.method == "POST"
    ]
    assert posts == [
        (START, "2026-10-12T00:00:00Z"),
        ("2026-10-12T00:00:00Z", "2026-10-22T00:00:00Z"),
        ("2026-10-22T00:00:00Z", END),
    ]
    assert (result.windows, result.loaded, result.duplicates) == (3, portal.count(START, END), 0)


def test_a_range_over_365_days_makes_api_sized_windows(portal, fast, tmp_path):
    result = auditlab.sync(tmp_path, settings=fast(portal), start="2025-09-01", end=END)
    spans = [
        parse_datetime(r.body["datetime_end"]) - parse_datetime(r.body["datetime_start"])
        for r in portal.requests
        if r.method == "POST"
    ]
    assert spans == [timedelta(days=365), timedelta(days=61)]  # 426 days
    assert result.loaded == 17050


def test_every_fault_at_once_still_gives_no_gap_and_no_duplicate(portal, fast, tmp_path):
    f = portal.faults
    f.throttle, f.throttle_style, f.server_errors, f.drop_api = 2, "body", 2, 1
    f.drop_download, f.old_flag, f.slow_status = 1, True, 3
    result = auditlab.sync(
        tmp_path, settings=fast(portal, max_attempts=8), start=START, end=END, window=timedelta(days=15)
    )
    assert (result.loaded, result.duplicates) == (portal.count(START, END), 0)
    assert result.retries >= 6 and read_state(tmp_path)["ndjson_flag"] == "should_create_json"
    assert _ids(auditlab.open_store(tmp_path)) == (portal.count(START, END), [])


def test_an_aborted_sync_keeps_the_mark_and_resumes_without_gap(portal, fast, tmp_path):
    portal.faults.corrupt_from_job = 2
    settings = fast(portal)
    with pytest.raises(ExportJobError, match="refused"):
        auditlab.sync(tmp_path, settings=settings, start=START, end=END, window=timedelta(days=10))
    first = portal.count(START, "2026-10-12T00:00:00Z")
    assert auditlab.open_store(tmp_path).count() == first  # nothing of window 2 half-ingested
    (mark,) = read_state(tmp_path)["marks"].values()
    assert mark["to"] == "2026-10-12T00:00:00Z"
    portal.faults.corrupt_from_job = None
    resumed = auditlab.sync(tmp_path, settings=settings, start=START, end=END, window=timedelta(days=10))
    assert resumed.start == "2026-10-11T23:00:00Z"  # the mark minus the 1 h overlap
    assert resumed.duplicates == portal.count("2026-10-11T23:00:00Z", "2026-10-12T00:00:00Z")
    assert _ids(auditlab.open_store(tmp_path)) == (portal.count(START, END), [])


def test_a_sync_killed_midway_resumes_with_no_gap_and_no_duplicate(portal, tmp_path):
    """A real process, SIGKILLed while waiting on its second export job, then resumed."""
    portal.faults.stall_from_job = 2
    store = tmp_path / "s"
    code = textwrap.dedent(
        f"""
        from datetime import timedelta
        import auditlab
        from auditlab.portal.settings import resolve_settings
        s = resolve_settings(host={portal.url!r}, server="demo", organization="acme",
                             poll_initial=0.01, poll_max=0.05, poll_timeout=600, use_keyring=False)
        auditlab.sync({str(store)!r}, settings=s, start={START!r}, end={END!r}, window=timedelta(days=10))
        """
    )
    env = {**os.environ, "AUDITLAB_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and len(portal.jobs) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        assert len(portal.jobs) == 2
        time.sleep(0.2)  # it is polling the stalled job now
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    (mark,) = read_state(store)["marks"].values()
    assert mark["to"] == "2026-10-12T00:00:00Z"
    assert auditlab.open_store(store).count() == portal.count(START, "2026-10-12T00:00:00Z")
    portal.faults.stall_from_job = None
    resumed = auditlab.sync(
        store,
        settings=auditlab.portal.resolve_settings(
            host=portal.url,
            server="demo",
            organization="acme",
            token=TOKEN,
            environ={},
            poll_initial=0.001,
            use_keyring=False,
        ),
        start=START,
        end=END,
        window=timedelta(days=10),
    )
    assert resumed.start == "2026-10-11T23:00:00Z"
    assert _ids(auditlab.open_store(store)) == (portal.count(START, END), [])


def test_residual_is_applied_locally_after_ingest(portal, fast, tmp_path):
    query = "user_email is anna.xu@acme.example; ip_address is 10.20.0.1"
    result = auditlab.sync(tmp_path, settings=fast(portal), query=query, start=START, end=END)
    post = next(r.body for r in portal.requests if r.method == "POST")
    assert post["filters"] == [
        {"filter_by": "user_email", "operation": "is", "values": ["anna.xu@acme.example"]}
    ]
    assert result.residual == "ip_address is 10.20.0.1"
    store = auditlab.open_store(tmp_path)
    kept = store.sql("SELECT DISTINCT user_email FROM events").fetchall()
    assert kept == [("anna.xu@acme.example",)]  # the store holds what the Portal sent
    local = store.query(f"{query}; all time").count()
    assert 0 < result.matching == local < result.loaded


def test_marks_are_kept_per_filter_set(portal, fast, tmp_path):
    settings = fast(portal)
    auditlab.sync(tmp_path, settings=settings, query="outcome is failure", start=START, end=END)
    unfiltered = auditlab.sync(tmp_path, settings=settings, since="7d", now=NOW)
    assert unfiltered.start == "2026-10-25T00:00:00Z"  # no mark for these filters: since 7d
    assert len(read_state(tmp_path)["marks"]) == 2


def test_nothing_to_fetch_is_not_an_error(portal, fast, tmp_path):
    settings = fast(portal)
    auditlab.sync(tmp_path, settings=settings, start=START, end=END)
    again = auditlab.sync(tmp_path, settings=settings, start=START, end=END, overlap=timedelta(0))
    assert (again.windows, again.start, again.mark) == (0, None, END)
    assert "nothing new to fetch" in str(again)


def test_one_sync_at_a_time(portal, fast, tmp_path):
    store = auditlab.open_store(tmp_path)
    with _sync_lock(store.path), pytest.raises(StoreLockedError, match="another sync"):
        auditlab.sync(store, settings=fast(portal), start=START, end=END)


def test_auth_failure_moves_nothing(portal, fast, tmp_path):
    portal.faults.expired_token = True
    with pytest.raises(AuthError, match="expired"):
        auditlab.sync(tmp_path, settings=fast(portal), start=START, end=END)
    assert not (tmp_path / STATE_FILE).exists() and auditlab.open_store(tmp_path).count() == 0


def test_token_is_in_no_output_log_or_file(portal, fast, tmp_path, caplog, capsys):
    import logging

    caplog.set_level(logging.DEBUG)
    portal.faults.throttle, portal.faults.drop_download, portal.faults.server_errors = 1, 1, 1
    keep = tmp_path / "zips"
    result = auditlab.sync(tmp_path / "s", settings=fast(portal), start=START, end=END, keep_downloads=keep)
    print(result, result.to_dict(), repr(result))
    portal.faults.expired_token = True
    with pytest.raises(AuthError) as info:
        auditlab.sync(tmp_path / "s", settings=fast(portal), start=START, end=END)
    print(info.value, repr(info.value))
    out = capsys.readouterr()
    assert "retrying" in caplog.text
    for text in (out.out, out.err, caplog.text):
        assert TOKEN not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == STATE_FILE for p in files) and any(p.suffix == ".zip" for p in files)
    assert [p for p in files if TOKEN.encode() in p.read_bytes()] == []


@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)),
    length=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=2000)),
    window=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=365)),
)
def test_windows_cover_the_range_without_gap_or_overlap(start, length, window):
    lo = start.replace(tzinfo=UTC)
    windows = plan_windows(lo, lo + length, window=window)
    assert windows[0][0] == lo and windows[-1][1] == lo + length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(timedelta(0) < hi - lo_ <= window for lo_, hi in windows)


def test_state_file_is_json_with_the_exports_table(portal, fast, tmp_path):
    end = "2026-10-05T00:00:00Z"
    auditlab.sync(tmp_path, settings=fast(portal), start=START, end=end, formats=("ndjson", "cef"))
    state = json.loads((tmp_path / STATE_FILE).read_text())
    (export,) = state["exports"]
    assert export["formats"] == ["ndjson", "cef"]  # the CEF twins are duplicates of the NDJSON records
    assert export["duplicates"] == export["loaded"] == portal.count(START, end) > 0


def test_killed_between_commit_and_state_write_only_refetches(portal, fast, tmp_path):
    """The state file as a kill right after window 2's commit leaves it: the mark still at window 1."""
    settings = fast(portal)
    auditlab.sync(tmp_path, settings=settings, start=START, end=END, window=timedelta(days=15))
    state = read_state(tmp_path)
    (key,) = state["marks"]
    state["marks"][key]["to"] = "2026-10-17T00:00:00Z"
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    again = auditlab.sync(tmp_path, settings=settings, start=START, end=END, window=timedelta(days=15))
    assert (again.start, again.loaded) == ("2026-10-16T23:00:00Z", 0)
    assert again.duplicates == portal.count("2026-10-16T23:00:00Z", END)
    assert _ids(auditlab.open_store(tmp_path)) == (portal.count(START, END), [])
