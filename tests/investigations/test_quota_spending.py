"""quota_spending: planted INC-08/09 on the sample, nothing on the control, spike and exhaustion edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditlab.errors import QueryError
from auditlab.investigations.quota_spending import quota_spending


def parse_ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def sample_result(sample_ws):
    return quota_spending(sample_ws)


@pytest.fixture(scope="module")
def control_result(control_ws):
    return quota_spending(control_ws)


# -- the committed sample ------------------------------------------------------------------------


def test_quota_exhaustion_is_one_finding_with_every_planted_event(sample_result, incidents):
    inc = incidents["quota_exhaustion"]
    hits = [f for f in sample_result.findings if f.technique == "T1496"]
    assert len(hits) == 1
    f = hits[0]
    assert sample_result.findings[0] is f
    assert (f.severity, f.technique) == ("high", inc["technique"])
    assert sorted(f.event_ids) == sorted(inc["event_ids"])  # 40 uploads, 40 spends, 3 failures
    assert f.count == len(inc["event_ids"]) == 83
    assert (f.first_seen, f.last_seen) == (parse_ts(inc["start"]), parse_ts(inc["end"]))
    assert f.entities == {
        "user": inc["users"],
        "ip": inc["ips"],
        "group": ["Mobile"],
        "project": ["mobile-android", "mobile-ios", "mobile-sdk"],
    }
    assert f.title == (
        "Upload quota of group Mobile exhausted: 40 units spent in 42 min by ci-mobile@acme.example "
        "from 203.0.113.77; peak 40 in 60 min against a baseline of 0.36/h (threshold 20); "
        "quota_remaining 0 of 2074; 3 failed actions ('Quota exceeded')"
    )


def test_quota_reallocation_is_reported_and_linked_to_the_exhaustion(sample_result, incidents):
    inc = incidents["quota_reallocation"]
    hits = [f for f in sample_result.findings if "reallocated" in f.title]
    assert len(hits) == 1
    f = hits[0]
    assert f.event_ids == tuple(inc["event_ids"])
    assert (f.first_seen, f.last_seen) == (parse_ts(inc["start"]), parse_ts(inc["end"]))
    assert f.entities == {"user": inc["users"], "ip": inc["ips"], "group": ["Data Science", "Mobile"]}
    assert (f.severity, f.technique) == ("medium", inc["technique"])
    assert f.title == (
        "anna.xu@acme.example reallocated 150 units of upload quota from Data Science to Mobile from 10.20.0.1 "
        "(Mobile exhausted its quota at 2026-10-22T01:46:17.103Z)"
    )


def test_sample_limit_update_is_an_info_finding(sample_result):
    f = sample_result.findings[-1]
    assert (f.severity, f.technique, f.count) == ("info", None, 1)
    assert (
        f.title
        == "anna.xu@acme.example changed the upload quota limit of group Web from 3100 to 3200 from 10.20.0.1"
    )
    assert len(sample_result.findings) == 3


def test_sample_tables(sample_result):
    t = sample_result.tables
    assert t["spend_by_group_day"]["amount"].sum() == 1506  # 1346 version + 160 filestream spends
    assert t["spend_by_user_day"]["amount"].sum() == t["spend_by_project_day"]["amount"].sum() == 1506
    groups = {r["group_name"]: r for r in t["groups"].iter_rows(named=True)}
    assert sorted(groups) == ["Data Science", "Firmware", "Mobile", "Payments", "Platform", "Web"]
    assert (groups["Mobile"]["min_quota_remaining"], groups["Mobile"]["quota_limit"]) == (
        0,
        2224,
    )  # after +150
    assert (groups["Data Science"]["quota_limit"], groups["Web"]["quota_limit"]) == (2000, 3200)
    assert t["quota_failures"]["error_message"].to_list() == ["Quota exceeded"] * 3
    assert t["spikes"].select("group_name", "spike", "exhausted", "spent").rows() == [
        ("Mobile", True, True, 40.0)
    ]
    assert t["reallocations"].select("from_group", "to_group", "amount").rows() == [
        ("Data Science", "Mobile", 150.0)
    ]
    assert t["limit_updates"].select("group_name", "old_limit", "new_limit").rows() == [
        ("Web", "3100", "3200")
    ]


def test_sample_charts_build(sample_result):
    charts = sample_result.charts()
    assert sorted(charts) == ["hourly_spend", "spend_by_group"]
    assert charts["spend_by_group"].to_dict()["mark"]["type"] == "bar"


def test_scope_keeps_the_baseline_from_before_it(sample_ws, sample_result):
    r = quota_spending(sample_ws, query="between 2026-10-22T00:00:00Z and 2026-10-23T00:00:00Z")
    assert [f.title for f in r.findings] == [sample_result.findings[0].title]
    after = quota_spending(sample_ws, query="between 2026-10-22T02:00:00Z and 2026-11-01T00:00:00Z")
    assert not [f for f in after.findings if f.technique == "T1496"]
    # the reallocation (2026-10-23) still follows the burst; the limit update (2026-10-19) is out of scope
    assert [f.severity for f in after.findings] == ["medium"]
    assert "(Mobile exhausted its quota at 2026-10-22T01:46:17.103Z)" in after.findings[0].title


def test_scope_conditions_filter_the_evidence(sample_ws):
    r = quota_spending(sample_ws, query="action is version.upload_quota.spent; all time")
    (f,) = [f for f in r.findings if f.technique == "T1496"]
    assert f.count == 40  # the spends only: no uploads, no failures in this scope
    assert f.title.endswith("against a baseline of 0.36/h (threshold 20); quota_remaining 0 of 2074")


# -- the control sample --------------------------------------------------------------------------


def test_control_has_no_incident_findings(control_result):
    # background changes one group's limit once (info, accountability); no spike, exhaustion or reallocation
    assert [(f.severity, f.technique) for f in control_result.findings] == [("info", None)]
    assert "changed the upload quota limit of group Web" in control_result.findings[0].title
    assert control_result.tables["spikes"].height == 0
    assert control_result.tables["reallocations"].height == 0


# -- hand-made cases -----------------------------------------------------------------------------

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _spend(at, group="G", remaining=500.0, amount=1, user="ci@x", **extra):
    details = {"amount": amount, "quota_remaining": remaining, "quota_limit": 1000}
    return {
        "timestamp": at,
        "action": "version.upload_quota.spent",
        "user_email": user,
        "ip_address": "10.0.0.1",
        "group_name": group,
        "project_name": "p",
        "details": details,
        **extra,
    }


# (minutes of each spend in group G, reported as a spike?) with spike_min=5, no baseline
WINDOWS = [
    ([0, 10, 20, 30, 59], True),  # exactly spike_min within the window
    ([0, 10, 20, 30], False),  # spike_min - 1
    ([0, 15, 30, 45, 60], True),  # first and last exactly one window apart: the window includes both ends
    ([0, 15, 30, 45, 60.02], False),  # one second more
    ([0, 10, 20, 30, 100, 110], False),  # 6 spends, never 5 in one window
]


@pytest.mark.parametrize("minutes, spike", WINDOWS)
def test_spike_window_edges(minutes, spike, events_ws):
    ws = events_ws([_spend(T0 + timedelta(minutes=m)) for m in minutes])
    r = quota_spending(ws, spike_min=5)
    found = [f for f in r.findings if f.technique == "T1496"]
    assert len(found) == int(spike)
    if spike:
        assert (found[0].severity, found[0].count) == ("medium", 5)
        assert found[0].title.startswith("Upload quota spending spike in group G: 5 units spent in")


def test_spike_is_per_group(events_ws):
    ws = events_ws([_spend(T0 + timedelta(minutes=m), group="AB"[m % 2]) for m in range(8)])
    assert quota_spending(ws, spike_min=5).findings == []
    assert [f.entities["group"] for f in quota_spending(ws, spike_min=4).findings] == [["A"], ["B"]]


def _with_baseline(burst):
    """An unrelated event 10 days before, one spend an hour in group G for 7 days, then ``burst`` extra
    spends in the next hour: baseline 1/h, so the threshold is max(5, 10 x 1) = 10 with the hour's own spend."""
    start = T0 - timedelta(days=7)
    rows = [{"timestamp": start - timedelta(days=3), "action": "user.login", "user_email": "u@x"}]
    rows += [_spend(start + timedelta(hours=h)) for h in range(168)]
    rows.append(_spend(T0))
    rows += [_spend(T0 + timedelta(minutes=10 + k)) for k in range(burst)]
    return rows


@pytest.mark.parametrize("burst, spike", [(9, True), (8, False)])
def test_spike_against_the_baseline(burst, spike, events_ws):
    r = quota_spending(events_ws(_with_baseline(burst)), spike_min=5, spike_factor=10)
    found = [f for f in r.findings if f.technique == "T1496"]
    assert len(found) == int(spike)
    if spike:
        assert "peak 10 in 60 min against a baseline of 1.00/h (threshold 10)" in found[0].title
        assert found[0].first_seen == T0


def test_spike_runs_merge_and_split(events_ws):
    burst = [T0 + timedelta(minutes=m) for m in range(5)]
    again = [
        T0 + timedelta(minutes=30 + m) for m in range(5)
    ]  # flagged again within the window: same episode
    later = [T0 + timedelta(hours=5, minutes=m) for m in range(5)]  # a new episode
    # spike_factor=1: the first bursts raise the baseline to 2.5/h, still under spike_min
    r = quota_spending(events_ws([_spend(t) for t in burst + again + later]), spike_min=5, spike_factor=1)
    assert [(f.count, f.first_seen, f.last_seen) for f in r.findings] == [
        (10, burst[0], again[-1]),
        (5, later[0], later[-1]),
    ]


def test_exhaustion_episodes_end_when_quota_is_left(events_ws):
    rows = [
        _spend(T0, remaining=1),
        _spend(T0 + timedelta(minutes=1), remaining=0),
        {
            "timestamp": T0 + timedelta(hours=3),
            "action": "version.uploaded",
            "outcome": "failure",
            "error_message": "Quota exceeded",
            "user_email": "ci@x",
            "group_name": "G",
            "request_id": "r9",
        },
        _spend(T0 + timedelta(days=1), remaining=150),  # topped up
        _spend(T0 + timedelta(days=2), remaining=0),
        {
            "timestamp": T0 + timedelta(days=3),
            "action": "version.uploaded",
            "outcome": "failure",
            "error_message": "Quota exceeded",
            "user_email": "other@x",
            "group_name": "H",
        },
    ]
    r = quota_spending(events_ws(rows))
    assert [(f.severity, f.entities["group"], f.count, f.first_seen) for f in r.findings] == [
        ("high", ["G"], 2, T0 + timedelta(minutes=1)),
        ("high", ["G"], 1, T0 + timedelta(days=2)),
        ("high", ["H"], 1, T0 + timedelta(days=3)),
    ]
    assert r.findings[0].title.endswith("quota_remaining 0 of 1000; 1 failed action ('Quota exceeded')")
    assert (
        r.findings[2].title
        == "Upload quota of group H exhausted: quota exhausted; 1 failed action ('Quota exceeded')"
    )


def test_evidence_includes_the_uploads_that_spent_the_quota(events_ws):
    rows = []
    for m in range(5):
        at = T0 + timedelta(minutes=m)
        rows.append(
            {
                "timestamp": at - timedelta(seconds=1),
                "action": "version.uploaded",
                "user_email": "ci@x",
                "group_name": "G",
                "request_id": f"r{m}",
                "event_id": f"up{m}",
            }
        )
        rows.append({**_spend(at, request_id=f"r{m}"), "event_id": f"sp{m}"})
    (f,) = quota_spending(events_ws(rows), spike_min=5).findings
    assert f.event_ids == ("up0", "sp0", "up1", "sp1", "up2", "sp2", "up3", "sp3", "up4", "sp4")
    assert f.first_seen == T0 - timedelta(seconds=1)


def _realloc(at, to="G"):
    return {
        "timestamp": at,
        "action": "organization.licensing.quotas.reallocated",
        "user_email": "admin@x",
        "ip_address": "10.0.0.2",
        "details": {"from_group": "F", "to_group": to, "amount": 50},
    }


@pytest.mark.parametrize(
    "realloc_at, to, severity",
    [
        (T0 + timedelta(days=1), "G", "medium"),  # right after G exhausted its quota
        (T0 + timedelta(days=7), "G", "medium"),  # exactly baseline_days after
        (T0 + timedelta(days=8), "G", "info"),
        (T0 + timedelta(days=1), "K", "info"),  # another group
        (T0 - timedelta(days=1), "G", "info"),  # before
    ],
)
def test_reallocation_severity(realloc_at, to, severity, events_ws):
    rows = [_spend(T0, remaining=0), _realloc(realloc_at, to)]
    r = quota_spending(events_ws(rows))
    (f,) = [f for f in r.findings if "reallocated" in f.title]
    assert f.severity == severity
    assert f.entities == {"user": ["admin@x"], "ip": ["10.0.0.2"], "group": sorted({"F", to})}
    assert f.title.startswith(f"admin@x reallocated 50 units of upload quota from F to {to} from 10.0.0.2")


def test_limit_update_without_changes_list(events_ws):
    rows = [
        {
            "timestamp": T0,
            "action": "group.licensing.limit.updated",
            "user_email": "admin@x",
            "ip_address": "10.0.0.2",
            "group_name": "G",
            "details": {"note": "x"},
        }
    ]
    (f,) = quota_spending(events_ws(rows)).findings
    assert f.title == (
        "admin@x changed the upload quota limit of group G from an unknown limit to an unknown limit from 10.0.0.2"
    )


@pytest.mark.parametrize(
    "options", [{"spike_window_minutes": 0}, {"baseline_days": 0}, {"spike_min": 0}, {"spike_factor": -1}]
)
def test_bad_thresholds(options, events_ws):
    with pytest.raises(QueryError, match="must be positive"):
        quota_spending(events_ws([]), **options)


def test_empty_workspace(events_ws):
    r = quota_spending(events_ws([]))
    assert r.findings == []
    assert r.tables["groups"].height == 0
    assert r.parameters == {
        "query": "all time",
        "spike_window_minutes": 60,
        "spike_factor": 10.0,
        "spike_min": 20.0,
        "baseline_days": 7,
    }
