"""failed_logins: the planted incidents, a clean control sample, the window edges, tables and charts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from auditlab.errors import QueryError
from auditlab.investigations._common import as_window
from auditlab.investigations.failed_logins import failed_logins


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


BY_TECHNIQUE = {"brute_force": "T1110.001", "password_spray": "T1110.003", "success_after_failures": "T1078"}


@pytest.fixture(scope="module")
def sample_result(sample_ws):
    return failed_logins(sample_ws)


def _one(result, technique, severity=None):
    found = [
        f
        for f in result.findings
        if f.technique == technique and (severity is None or f.severity == severity)
    ]
    assert len(found) == 1, [f.title for f in result.findings]
    return found[0]


# -- the committed sample ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BY_TECHNIQUE))
def test_reports_planted_incident(sample_result, incidents, kind):
    inc = incidents[kind]
    f = _one(sample_result, BY_TECHNIQUE[kind])
    assert f.investigation == "failed_logins"
    assert sorted(f.entities["user"]) == sorted(inc["users"])
    assert f.entities["ip"] == inc["ips"]
    assert f.first_seen == parse_ts(inc["start"])
    assert f.last_seen == parse_ts(inc["end"])
    assert set(f.event_ids) == set(inc["event_ids"])
    assert f.count == len(inc["event_ids"])


def test_sample_findings_are_exactly_the_planted_ones(sample_result):
    assert [(f.severity, f.technique, f.title) for f in sample_result.findings] == [
        (
            "critical",
            "T1078",
            "ext.olga.novak@acme.example logged in from new address 203.0.113.118 after 7 failed logins in 45 min",
        ),
        (
            "high",
            "T1110.001",
            "Brute force against ext.zoe.bauer@acme.example: 14 failed logins in 8 min from 203.0.113.45",
        ),
        (
            "high",
            "T1110.003",
            "Password spray from 198.51.100.203: 18 users failed in 3 min "
            "(anna.xu@acme.example, emil.nagel@acme.example, ext.karin.dietz@acme.example and 15 more)",
        ),
    ]


def test_control_sample_has_no_finding(control_ws):
    result = failed_logins(control_ws)
    assert result.findings == []
    # and the background stays well under every threshold
    assert result.tables["failures_by_user"]["peak_in_window"].max() <= 2
    assert result.tables["failures_by_ip"]["peak_users_in_window"].max() <= 2
    assert not result.tables["user_addresses"]["new"].any()


def test_tables(sample_result):
    t = sample_result.tables
    reasons = t["failure_reasons"]
    assert reasons.columns == ["error_message", "count", "users", "ips", "actions"]
    assert reasons.row(0)[:2] == ("Invalid credentials", 52)
    assert dict(zip(reasons["error_message"], reasons["count"], strict=True))["Account locked"] == 2
    assert reasons["count"].sum() == 57 + 56 + 3  # every failed user.login, SAML and OIDC login
    top_user = t["failures_by_user"].row(0, named=True)
    assert (top_user["user_email"], top_user["failures"], top_user["peak_in_window"]) == (
        "ext.zoe.bauer@acme.example",
        16,
        14,
    )
    top_ip = (
        t["failures_by_ip"].filter(t["failures_by_ip"]["ip_address"] == "198.51.100.203").row(0, named=True)
    )
    assert (top_ip["failures"], top_ip["users"], top_ip["successes"], top_ip["peak_users_in_window"]) == (
        18,
        18,
        0,
        18,
    )
    resets = t["password_resets"]
    assert resets["action"].to_list().count("user.password_reset_completed") == 2
    assert "ext.zoe.bauer@acme.example" in resets["user_email"].to_list()
    new = t["user_addresses"].filter(t["user_addresses"]["new"])
    assert new.select("user_email", "ip_address").rows() == [("ext.olga.novak@acme.example", "203.0.113.118")]
    timeline = t["failures_timeline"]
    assert timeline.columns == ["bucket", "action", "count"]
    assert timeline["count"].sum() == 116


def test_chart_is_built_from_the_aggregated_timeline(sample_result):
    spec = sample_result.charts()["failures_timeline"].to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["title"] == "Failed logins over time (UTC)"
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == sample_result.tables["failures_timeline"].height


def test_query_scopes_the_events(sample_ws):
    day = failed_logins(sample_ws, query="between 2026-10-14T00:00:00Z and 2026-10-15T00:00:00Z")
    assert [f.technique for f in day.findings] == ["T1110.001"]
    assert day.parameters["query"] == "between 2026-10-14T00:00:00Z and 2026-10-15T00:00:00Z"
    assert failed_logins(sample_ws).parameters["query"] == "all time"
    other = failed_logins(sample_ws, query="user_email is ext.zoe.bauer@acme.example; all time")
    assert [f.technique for f in other.findings] == ["T1110.001"]


def test_thresholds_are_parameters(sample_ws):
    assert len(failed_logins(sample_ws, spray_users=19).findings) == 2
    assert (
        len(failed_logins(sample_ws, spray_users=18, spray_window="3m").findings) == 2
    )  # 18 users take 3m20s
    assert len(failed_logins(sample_ws, brute_force_failures=15).findings) == 2
    # INC-03 has 7 failures; without the success-after-failures finding its login is still a new address
    fewer = failed_logins(sample_ws, success_after_failures=8).findings
    assert [(f.severity, f.title) for f in fewer][-1] == (
        "low",
        "ext.olga.novak@acme.example logged in from a new address 203.0.113.118",
    )
    assert fewer[-1].event_ids == ("f135d658-005c-427b-b4dd-4b2d9aed6152",)
    # a 10-minute window before the success holds only the last of INC-03's failures (6 min before it)
    short = failed_logins(sample_ws, success_window=timedelta(minutes=10)).findings
    assert [f.severity for f in short] == ["high", "high", "low"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"brute_force_failures": 0}, "brute_force_failures must be an integer of at least 1, got 0"),
        ({"spray_users": True}, "spray_users must be an integer of at least 1, got True"),
        ({"brute_force_window": "15x"}, "brute_force_window: bad time bucket '15x'"),
        ({"spray_window": "1mo"}, "spray_window: use s, m, h, d or w for a window, got '1mo'"),
        ({"success_window": timedelta(0)}, "success_window must be a positive duration"),
        ({"learning_days": -1}, "learning_days must be an integer of at least 1, got -1"),
    ],
)
def test_bad_thresholds(sample_ws, kwargs, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        failed_logins(sample_ws, **kwargs)


def test_as_window_text():
    assert as_window("90s", "w") == timedelta(seconds=90)
    assert as_window("2h", "w") == timedelta(hours=2)


# -- window edges on hand-made events --------------------------------------------------------------

SEC = 1 / 60


def _fails(user, ip, minutes, action="user.login"):
    return [
        {"minutes": m, "action": action, "outcome": "failure", "user_email": user, "ip_address": ip,
         "error_message": "Invalid credentials"}
        for m in minutes
    ]  # fmt: skip


def _ok(user, ip, minutes, action="user.login"):
    return [{"minutes": m, "action": action, "user_email": user, "ip_address": ip} for m in minutes]


BRUTE_CASES = [
    ("5 in exactly 15 min", _fails("u", "1.1.1.1", [0, 5, 10, 12, 15]), [5]),
    ("5 in 15 min and 1 s", _fails("u", "1.1.1.1", [0, 5, 10, 12, 15 + SEC]), []),
    ("4 in a minute", _fails("u", "1.1.1.1", [0, 0.2, 0.4, 0.6]), []),
    ("5 at the same instant", _fails("u", "1.1.1.1", [3] * 5), [5]),
    ("5 across SSO actions", _fails("u", "1.1.1.1", [0, 1], "user.sso.saml.login") + _fails("u", "2.2.2.2", [2, 3, 4]), [5]),
    ("two overlapping bursts merge", _fails("u", "1.1.1.1", [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]), [10]),
    ("two bursts far apart", _fails("u", "1.1.1.1", [0, 1, 2, 3, 4, 40, 41, 42, 43, 44]), [5, 5]),
    ("3 users x 3 failures", [e for u in "abc" for e in _fails(u, "1.1.1.1", [0, 1, 2])], []),
    ("successes do not count", _fails("u", "1.1.1.1", [0, 1, 2, 3]) + _ok("u", "1.1.1.1", [4]), []),
    ("password resets do not count",
     _fails("u", "1.1.1.1", [0, 1, 2, 3]) + _fails("u", "1.1.1.1", [4], "user.password_reset_initiated"), []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "counts"), BRUTE_CASES, ids=[c[0] for c in BRUTE_CASES])
def test_brute_force_window(events_ws, case, events, counts):
    found = [f for f in failed_logins(events_ws(events)).findings if f.technique == "T1110.001"]
    assert [f.count for f in found] == counts
    for f in found:
        assert f.entities["user"] == ["u"]


def _spray(n_users, span, repeat=1):
    step = span / max(n_users * repeat - 1, 1)
    users = [f"user{i:02d}" for i in range(n_users)] * repeat
    return [e for i, u in enumerate(users) for e in _fails(u, "9.9.9.9", [i * step])]


SPRAY_CASES = [
    ("10 users in exactly 5 min", _spray(10, 5), [10]),
    ("10 users in 5 min and 1 s", _spray(10, 5 + SEC), []),
    ("9 users in a minute", _spray(9, 1), []),
    ("5 users twice each", _spray(5, 2, repeat=2), []),
    ("20 users in 4 min", _spray(20, 4), [20]),
]


@pytest.mark.parametrize(("case", "events", "users"), SPRAY_CASES, ids=[c[0] for c in SPRAY_CASES])
def test_spray_window(events_ws, case, events, users):
    found = [f for f in failed_logins(events_ws(events)).findings if f.technique == "T1110.003"]
    assert [len(f.entities["user"]) for f in found] == users
    for f in found:
        assert f.entities["ip"] == ["9.9.9.9"]
        assert f.count == len(events)


SAF_CASES = [
    ("3 failures then success", _fails("u", "1.1.1.1", [0, 20, 40]) + _ok("u", "1.1.1.1", [50]), [4]),
    ("2 failures then success", _fails("u", "1.1.1.1", [0, 20]) + _ok("u", "1.1.1.1", [50]), []),
    ("first failure exactly 60 min before", _fails("u", "1.1.1.1", [0, 30, 40]) + _ok("u", "1.1.1.1", [60]), [4]),
    ("first failure 61 min before", _fails("u", "1.1.1.1", [0, 30, 40]) + _ok("u", "1.1.1.1", [61]), []),
    ("a success breaks the run",
     _fails("u", "1.1.1.1", [0, 10]) + _ok("u", "1.1.1.1", [15]) + _fails("u", "1.1.1.1", [20]) + _ok("u", "1.1.1.1", [30]),
     []),
    ("another user's failures do not count", _fails("v", "1.1.1.1", [0, 1, 2]) + _ok("u", "1.1.1.1", [3]), []),
    ("failures from several addresses", _fails("u", "1.1.1.1", [0]) + _fails("u", "2.2.2.2", [1, 2]) + _ok("u", "3.3.3.3", [3]),
     [4]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "counts"), SAF_CASES, ids=[c[0] for c in SAF_CASES])
def test_success_after_failures_window(events_ws, case, events, counts):
    found = [f for f in failed_logins(events_ws(events)).findings if f.technique == "T1078"]
    assert [f.count for f in found] == counts
    for f in found:
        assert f.severity == "medium"  # the user's first success: no history, so not a new address
        assert f.entities["user"] == ["u"]
        assert f.event_ids[-1] == events[-1].get("event_id", f"e{len(events) - 1}")


DAY = 24 * 60


def test_new_address_after_learning_period(events_ws):
    ws = events_ws(
        _ok("u", "1.1.1.1", [0, DAY])
        + _ok("u", "2.2.2.2", [3 * DAY])  # new, but inside the 7-day learning period
        + _ok("u", "3.3.3.3", [8 * DAY, 9 * DAY])  # new after learning: flagged once
        + _ok("u", "1.1.1.1", [10 * DAY])  # known
        + _fails("u", "4.4.4.4", [11 * DAY])  # a failure proves no access
    )
    found = failed_logins(ws).findings
    assert [(f.severity, f.technique, f.title, f.count, f.event_ids) for f in found] == [
        ("low", "T1078", "u logged in from a new address 3.3.3.3", 1, ("e3",)),
    ]
    assert found[0].first_seen == found[0].last_seen
    assert [f.entities["ip"] for f in failed_logins(ws, learning_days=2).findings] == [
        ["2.2.2.2"],
        ["3.3.3.3"],
    ]
    assert [f.entities["ip"] for f in failed_logins(ws, learning_days=0).findings] == [
        ["2.2.2.2"],
        ["3.3.3.3"],
    ]
    assert failed_logins(ws, learning_days=9).findings == []


def test_success_after_failures_from_new_address_is_one_critical_finding(events_ws):
    ws = events_ws(
        _ok("u", "1.1.1.1", [0])
        + _fails("u", "6.6.6.6", [8 * DAY, 8 * DAY + 10, 8 * DAY + 20])
        + _ok("u", "6.6.6.6", [8 * DAY + 25])
    )
    found = failed_logins(ws).findings
    assert [(f.severity, f.title) for f in found] == [
        ("critical", "u logged in from new address 6.6.6.6 after 3 failed logins in 25 min"),
    ]
    assert found[0].event_ids == ("e1", "e2", "e3", "e4")
    assert found[0].entities == {"user": ["u"], "ip": ["6.6.6.6"]}


def test_findings_sorted_by_severity_then_time(events_ws):
    ws = events_ws(
        _fails("a", "1.1.1.1", [0, 1, 2, 3, 4])  # brute force, high, earliest
        + _ok("b", "1.1.1.1", [0])
        + _fails("b", "1.1.1.1", [60, 61, 62])
        + _ok("b", "1.1.1.1", [63])  # success after failures from a known address: medium
        + _fails("c", "2.2.2.2", [30, 31, 32, 33, 34])  # brute force, high, later
    )
    assert [(f.severity, f.entities["user"]) for f in failed_logins(ws).findings] == [
        ("high", ["a"]),
        ("high", ["c"]),
        ("medium", ["b"]),
    ]


def test_empty_workspace(events_ws):
    result = failed_logins(events_ws([]))
    assert result.findings == []
    assert result.tables["failure_reasons"].height == 0
    assert result.tables["failures_timeline"].height == 0
