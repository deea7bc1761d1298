"""ExplorerState driven headless: filters, range, pages, Info, values, exports, superseded refreshes."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime

import pytest

from auditlab.errors import QueryError
from auditlab.explorer.state import ExplorerState, choose_bucket, operators_for
from auditlab.filters.model import Op

from .events import HOSTILE_PROJECT, HOSTILE_USER


def test_opens_on_the_24h_ending_at_the_newest_event(ws) -> None:
    s = ExplorerState(ws)
    # i = 73..119 (after 2026-10-02 12:00) plus the hostile event at 2026-10-03 12:00
    assert (s.query_text, s.count, s.page_label) == ("since 24h", 48, "page 1 of 1")
    assert s.range_label == "2026-10-02 12:00 – 2026-10-03 12:00 UTC"
    assert s.bucket == "1h"
    assert s.timeline["count"].sum() == 48
    assert set(s.timeline["outcome"].to_list()) == {"success", "failure"}


def test_filters_add_edit_remove(ws) -> None:
    s = ExplorerState(ws, query="all time")
    assert s.count == 121
    assert s.add_filter("Action", "is", "user.login")
    assert (s.query_text, s.count) == ("action is user.login; all time", 40)
    assert s.add_filter("Outcome", "is", "unsuccessful")
    assert (s.query_text, s.count) == ("action is user.login; outcome is failure; all time", 8)
    assert s.edit_filter(0, "Action", "is any", ["user.login", "user.logout"])
    assert s.count == 16
    assert s.remove_filter(0)
    assert (s.query_text, s.count) == ("outcome is failure; all time", 25)
    assert s.remove_filter(0) and s.count == 121 and s.conditions == ()


def test_time_ranges(ws) -> None:
    s = ExplorerState(ws, query="all time")
    assert s.set_range("7d") and (s.query_text, s.count) == ("since 7d", 121)
    assert s.set_range("custom", start="2026-10-01T00:00:00Z", end="2026-10-01T12:00:00Z")
    assert s.query_text == "between 2026-10-01T00:00:00Z and 2026-10-01T12:00:00Z"
    assert s.count == 24 and s.bucket == "15m"
    assert s.set_range("custom", start=datetime(2026, 10, 3, tzinfo=UTC))
    assert (s.query_text, s.count) == ("since 2026-10-03T00:00:00Z", 25)
    assert s.set_range("all") and s.count == 121


def test_pages_newest_first(ws) -> None:
    s = ExplorerState(ws, query="all time")
    assert (s.pages, s.page_label, s.rows.height) == (3, "page 1 of 3", 50)
    assert s.rows["event_id"][:2].to_list() == ["hostile", "e119"]
    assert s.next_page() and s.page_label == "page 2 of 3"
    assert s.rows["event_id"][0] == "e070"
    assert s.goto_page(2) and s.rows.height == 21 and s.rows["event_id"][-1] == "e000"
    assert not s.next_page()
    assert not s.goto_page(3)
    assert s.error == "no page 4: there are 3" and s.page == 2
    assert s.previous_page() and s.page == 1 and s.error is None
    # a change of filters goes back to the first page
    assert s.add_filter("Action", "is", "user.logout") and s.page_label == "page 1 of 1"


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda s: s.add_filter("Action", "is", "user.pat.revoke"),
            "unknown action 'user.pat.revoke'; did you mean user.pat.revoked?",
        ),
        (
            lambda s: s.add_filter("Target Name", "is", "x"),
            "Target Name needs a Target Type condition (resource_type), as in the Portal",
        ),
        (lambda s: s.add_filter("colour", "is", "red"), "unknown field 'colour'"),
        (
            lambda s: s.add_filter("Outcome", "is", ["success", "failure"]),
            "outcome is takes exactly one value, got 2",
        ),
        (lambda s: s.set_range("custom"), "a custom time range needs a start, an end or both"),
        (lambda s: s.set_range("custom", start="yesterday"), "not an ISO 8601 date-time: 'yesterday'"),
        (lambda s: s.set_query("action maybe x"), ""),
        (lambda s: s.remove_filter(5), "no filter 5"),
    ],
)
def test_bad_values_give_the_models_message_and_change_nothing(ws, call, message) -> None:
    s = ExplorerState(ws, query="action is user.login; all time")
    seen = []
    s.on_change(lambda st: seen.append(st.error))
    assert call(s) is False
    assert s.error is not None and s.error.startswith(message)
    assert seen == [s.error]
    assert (s.query_text, s.count) == ("action is user.login; all time", 40)


def test_target_name_with_target_type_is_fine(ws) -> None:
    s = ExplorerState(ws, query="all time")
    assert s.add_filter("Target Type", "is", "project")
    assert s.add_filter("Target Name", "is", "<b>bold</b>")
    assert s.count == 1 and s.rows["event_id"].to_list() == ["hostile"]
    # removing the Target Type would leave Target Name alone: refused with the model's message
    assert not s.remove_filter(0)
    assert s.error.startswith("Target Name needs a Target Type condition") and s.count == 1


def test_info_panel(ws) -> None:
    s = ExplorerState(ws, query="all time")
    info = s.info(0)
    assert info["User email"] == HOSTILE_USER
    assert info["Project"] == HOSTILE_PROJECT
    assert info["Target type"] == "project" and info["Target name"] == "<b>bold</b>"
    assert info["IP address"] == "10.9.9.9" and info["Request ID"] == "req-x"
    assert info["Authentication context"] == "portal"
    assert json.loads(info["Changes"]) == {"changes": {"name": "<svg onload=alert(1)>"}}
    assert info["Error message"] == "<i>denied</i>"
    ok = s.info(1)  # e119: a success with no details
    assert ok["User email"] == "user3@acme.example" and "Error message" not in ok and "Changes" not in ok
    assert s.table()[0] == {
        "Timestamp": "2026-10-03 12:00:00 UTC",
        "User": HOSTILE_USER,
        "Action": "project.created",
        "Target": "project <b>bold</b>",
        "Outcome": "failure",
    }
    with pytest.raises(QueryError, match="no row 50 on this page"):
        s.info(50)


def test_value_picker_counts_and_search(ws) -> None:
    s = ExplorerState(ws, query="action is user.login; all time")
    assert s.values("User Email") == [
        ("user0@acme.example", 10),
        ("user1@acme.example", 10),
        ("user2@acme.example", 10),
        ("user3@acme.example", 10),
    ]
    # the picker of a field ignores that field's own filter
    assert s.values("Action") == [("project.created", 41), ("user.login", 40), ("user.logout", 40)]
    assert s.values("project_name", search="IMG") == []  # not among logins
    s.remove_filter(0)
    assert s.values("project_name", search="IMG") == [(HOSTILE_PROJECT, 1)]


def test_operators_and_buckets_follow_the_field_table() -> None:
    assert operators_for("Target Type") == [Op.IS, Op.IS_NOT, Op.IS_ANY, Op.IS_NOT_ANY]
    assert operators_for("User Email") == [Op.IS]
    assert operators_for("Project Name") == [Op.IS, Op.IS_NOT, Op.IS_ANY, Op.IS_NOT_ANY]
    from datetime import timedelta

    assert [choose_bucket(timedelta(hours=h)) for h in (1, 6, 48, 24 * 90, 24 * 3000)] == [
        "1m",
        "15m",
        "1h",
        "1w",
        "1mo",
    ]


def test_export_and_the_audit_exports_rows(ws, tmp_path) -> None:
    s = ExplorerState(ws, query="outcome is failure; all time", export_dir=tmp_path / "exports")
    assert s.export_rows() == []
    path = s.export("Failures <b>Q4</b>", ["ndjson"])
    assert path is not None and path.name == "Failures_b_Q4_b.zip"
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["audit_log.ndjson", "manifest.json"]
        lines = zf.read("audit_log.ndjson").decode().splitlines()
    assert len(lines) == 25
    (row,) = s.export_rows()
    assert {k: row[k] for k in ("Name", "Events", "Filters", "NDJSON", "CEF")} == {
        "Name": "Failures <b>Q4</b>",
        "Events": "25",
        "Filters": "outcome is failure; all time",
        "NDJSON": "audit_log.ndjson",
        "CEF": "",
    }
    assert s.export("Failures <b>Q4</b>") is None and "exists" in s.error
    assert s.delete_export("Failures <b>Q4</b>") and s.export_rows() == []
    assert not s.delete_export("nope") and s.error.startswith("no export named 'nope'")


def test_a_newer_refresh_supersedes_an_older_one(ws) -> None:
    jobs = []
    s = ExplorerState(ws, query="all time", runner=jobs.append)
    changes = []
    s.on_change(lambda st: changes.append(st.count))
    busy = []

    def change_while_computing(started: bool) -> None:
        busy.append(started)
        if started and len(busy) == 1:  # a newer change arrives while the first refresh runs
            s.add_filter("Outcome", "is", "failure")

    s.on_busy(change_while_computing)
    s.add_filter("Action", "is", "user.login")
    assert len(jobs) == 1 and s.count == 121  # nothing computed yet: the runner holds the job
    assert jobs[0]() is False  # its result is older than the change made meanwhile: dropped
    assert (s.count, changes) == (121, [])
    assert len(jobs) == 2 and jobs[1]() is True
    assert (s.count, changes, s.query_text) == (8, [8], "action is user.login; outcome is failure; all time")
    assert busy == [True, False, True, False]


@pytest.mark.parametrize("bucket", ["1m", "5m", "15m", "1h", "3h", "6h", "12h", "1d", "1w", "1mo"])
def test_the_fast_timeline_equals_query_result_timeline(ws, bucket) -> None:
    from auditlab.explorer.state import timeline_frame

    for text in ("all time", "outcome is_not success; since 24h", "action is user.pat.revoked; all time"):
        result = ws.query(text)
        assert timeline_frame(result, bucket).equals(result.timeline(bucket, by="outcome")), (bucket, text)
