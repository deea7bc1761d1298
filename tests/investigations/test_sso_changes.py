"""sso_changes: planted incidents INC-05/06/07 on the sample, nothing alarming on the control, window edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditlab.errors import QueryError
from auditlab.investigations.sso_changes import sso_changes


def parse_ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


SAML = {"idp_entity_id": "http://idp.example/saml", "sso_url": "https://idp.example/sso"}
OIDC_A = {"issuer": "https://a.example/oauth2"}
OIDC_B = {"issuer": "https://b.example/oauth2"}


@pytest.fixture(scope="module")
def sample_result(sample_ws):
    return sso_changes(sample_ws)


@pytest.fixture(scope="module")
def control_result(control_ws):
    return sso_changes(control_ws)


def _only(findings, needle):
    hits = [f for f in findings if needle in f.title]
    assert len(hits) == 1, [f.title for f in findings]
    return hits[0]


def _check_planted(finding, inc):
    assert finding.event_ids == tuple(inc["event_ids"])
    assert finding.entities["user"] == inc["users"]
    assert finding.entities["ip"] == inc["ips"]
    assert finding.first_seen == parse_ts(inc["start"])
    assert finding.last_seen == parse_ts(inc["end"])
    assert finding.technique == inc["technique"] == "T1556"


# -- the committed sample ------------------------------------------------------------------------


def test_sso_disabled_is_reported_with_what_followed(sample_result, incidents):
    inc = incidents["sso_disabled"]
    f = _only(sample_result.findings, "SSO disabled")
    _check_planted(f, inc)
    assert f.severity == "high"
    assert f.title == (
        "SSO disabled by xenia.ortiz@acme.example from 192.0.2.165 outside working hours; "
        "SAML re-applied by anna.xu@acme.example at 2026-10-28T08:46:08.823Z; 5 password logins meanwhile"
    )
    assert sample_result.findings[0] is f  # most severe first


def test_oidc_setup_never_applied_is_reported(sample_result, incidents):
    inc = incidents["sso_setup_not_applied"]
    f = _only(sample_result.findings, "never applied")
    _check_planted(f, inc)
    assert f.severity == "medium"
    assert "OIDC setup created" in f.title
    assert "https://login.unknown-idp.example/oauth2/default" in f.title


def test_off_hours_session_lifetime_change_is_reported(sample_result, incidents):
    inc = incidents["off_hours_auth_change"]
    f = _only(sample_result.findings, "session_lifetime")
    _check_planted(f, inc)
    assert f.severity == "medium"
    assert f.title.endswith(
        "outside working hours (Sun 2026-10-25 02:13 UTC): session_lifetime: 720 -> 43200"
    )


def test_sample_has_exactly_the_three_planted_auth_findings(sample_result):
    # the SAML setup created and left pending on 2026-10-05 was applied the next day: not reported;
    # the in-hours session-lifetime change of 2026-10-06 is not reported either
    auth = [f for f in sample_result.findings if f.technique == "T1556"]
    assert [f.severity for f in auth] == ["high", "medium", "medium"]
    assert {f.event_ids for f in auth} == {
        ("af36b165-ebee-4fd4-97f3-6e88f646fbcf",),
        ("c5fd91c8-7159-4415-813e-9acb54b2936a",),
        ("71c9fdca-b1ea-4dca-940e-9496095ed370",),
    }


def test_sample_password_logins_are_contractors_listed_once_each(sample_result):
    pw = [f for f in sample_result.findings if "signed in with a password" in f.title]
    users = sorted(u for f in pw for u in f.entities["user"])
    assert users == [
        "ext.clara.ritter@acme.example",
        "ext.dora.illes@acme.example",
        "ext.karin.dietz@acme.example",
        "ext.olga.novak@acme.example",
        "ext.quentin.berger@acme.example",
        "ext.uwe.keller@acme.example",
        "ext.zoe.bauer@acme.example",
    ]
    assert {(f.severity, f.technique) for f in pw} == {("info", None)}
    zoe = _only(pw, "ext.zoe.bauer")
    assert zoe.count == len(zoe.event_ids) == 13


def test_sample_timeline_and_state(sample_result):
    timeline = sample_result.tables["timeline"]
    assert timeline.height == 61
    assert timeline["timestamp"].is_sorted(descending=True)
    row = timeline.filter(timeline["event_id"] == "71c9fdca-b1ea-4dca-940e-9496095ed370").row(0, named=True)
    assert (row["user_email"], row["ip_address"], row["outcome"], row["off_hours"]) == (
        "xenia.ortiz@acme.example",
        "192.0.2.165",
        "success",
        True,
    )
    assert row["change"] == "session_lifetime: 720 -> 43200"
    state = sample_result.tables["sso_state"]
    assert state.select("provider", "applied_by", "disabled_by").rows() == [
        ("oidc", "anna.xu@acme.example", "xenia.ortiz@acme.example"),
        ("saml", "anna.xu@acme.example", "xenia.ortiz@acme.example"),
        ("saml", "anna.xu@acme.example", None),
    ]


def test_sample_charts_build(sample_result):
    charts = sample_result.charts()
    assert sorted(charts) == ["logins", "timeline"]
    assert charts["timeline"].to_dict()["mark"]["type"] == "point"


def test_scope_keeps_sso_state_from_before_it(sample_ws):
    # SAML was re-applied on 2026-10-28, before this scope: contractors' logins still count as "while in force"
    r = sso_changes(sample_ws, query="between 2026-10-29T00:00:00Z and 2026-11-01T00:00:00Z")
    assert not [f for f in r.findings if f.technique == "T1556"]
    assert r.tables["timeline"].height == 8
    pw = [f for f in r.findings if "signed in with a password" in f.title]
    assert sorted(f.entities["user"][0] for f in pw) == [
        "ext.clara.ritter@acme.example",
        "ext.olga.novak@acme.example",
        "ext.quentin.berger@acme.example",
        "ext.uwe.keller@acme.example",
        "ext.zoe.bauer@acme.example",
    ]
    assert all(f.first_seen >= datetime(2026, 10, 29, tzinfo=UTC) for f in pw)


# -- the control sample --------------------------------------------------------------------------


def test_control_has_no_incident_findings(control_result):
    # background: policy changes in the evening (low, per actor) and contractors' password logins (info)
    assert not [f for f in control_result.findings if f.technique is not None]
    assert {f.severity for f in control_result.findings} == {"low", "info"}
    low = [f for f in control_result.findings if f.severity == "low"]
    assert all(f.title.split(" outside working hours")[0].endswith(("change", "changes")) for f in low)
    assert all("policy configuration change" in f.title for f in low)
    info = [f for f in control_result.findings if f.severity == "info"]
    assert all(f.entities["user"][0].startswith("ext.") for f in info)


# -- hand-made cases: working hours ----------------------------------------------------------------

LIFETIME = {"changes": [{"field": "session_lifetime", "old": 720, "new": 1440}]}

# (UTC time of a session-lifetime change, options, reported as off hours?)
HOURS = [
    (datetime(2026, 10, 1, 7, 59, 59, tzinfo=UTC), {}, True),  # Thursday, one second before 08:00
    (datetime(2026, 10, 1, 8, 0, 0, tzinfo=UTC), {}, False),  # start inclusive
    (datetime(2026, 10, 1, 17, 59, 59, tzinfo=UTC), {}, False),
    (datetime(2026, 10, 1, 18, 0, 0, tzinfo=UTC), {}, True),  # end exclusive
    (datetime(2026, 10, 3, 12, 0, tzinfo=UTC), {}, True),  # Saturday noon
    (datetime(2026, 10, 3, 12, 0, tzinfo=UTC), {"working_days": range(7)}, False),
    (datetime(2026, 10, 1, 17, 30, tzinfo=UTC), {"timezone": "Europe/Berlin"}, True),  # 19:30 CEST
    (datetime(2026, 10, 1, 6, 30, tzinfo=UTC), {"timezone": "Europe/Berlin"}, False),  # 08:30 CEST
    (datetime(2026, 10, 26, 7, 30, tzinfo=UTC), {"timezone": "Europe/Berlin"}, False),  # 08:30 CET, after DST
    (datetime(2026, 10, 26, 6, 30, tzinfo=UTC), {"timezone": "Europe/Berlin"}, True),  # 07:30 CET
    (datetime(2026, 10, 2, 23, 30, tzinfo=UTC), {"timezone": "Asia/Tokyo"}, True),  # Saturday 08:30 in Tokyo
    (datetime(2026, 10, 4, 23, 30, tzinfo=UTC), {"timezone": "Asia/Tokyo"}, False),  # Monday 08:30 in Tokyo
    (datetime(2026, 10, 1, 23, 0, tzinfo=UTC), {"working_hours": (22, 6)}, False),  # night shift
    (datetime(2026, 10, 1, 12, 0, tzinfo=UTC), {"working_hours": (22, 6)}, True),
]


@pytest.mark.parametrize("when, options, off", HOURS)
def test_working_hours(when, options, off, events_ws):
    ws = events_ws(
        [
            {
                "timestamp": when,
                "action": "organization.session_lifetime.updated",
                "user_email": "a@x",
                "ip_address": "10.0.0.1",
                "details": LIFETIME,
            }
        ]
    )
    r = sso_changes(ws, **options)
    assert r.tables["timeline"]["off_hours"].to_list() == [off]
    assert len(r.findings) == int(off)
    if off:
        assert (r.findings[0].severity, r.findings[0].technique) == ("medium", "T1556")


def test_failed_change_outside_hours_is_only_in_the_timeline(events_ws):
    ws = events_ws(
        [
            {
                "timestamp": datetime(2026, 10, 3, 3, 0, tzinfo=UTC),
                "outcome": "failure",
                "action": "organization.session_lifetime.updated",
                "user_email": "a@x",
                "error_message": "Insufficient permissions",
            }
        ]
    )
    r = sso_changes(ws)
    assert r.findings == []
    assert r.tables["timeline"]["error_message"].to_list() == ["Insufficient permissions"]


def test_policy_changes_outside_hours_are_one_low_finding_per_actor(events_ws):
    night = [
        {
            "timestamp": datetime(2026, 10, 1, 20, m, tzinfo=UTC),
            "action": "group.policy_configuration.updated",
            "user_email": "a@x",
            "group_name": "Web",
            "ip_address": "10.0.0.1",
        }
        for m in (0, 5, 9)
    ]
    day = {
        "timestamp": datetime(2026, 10, 1, 10, tzinfo=UTC),
        "action": "organization.policy_configuration.updated",
        "user_email": "a@x",
    }
    r = sso_changes(events_ws([*night, day]))
    assert [(f.severity, f.technique, f.count, f.entities["group"]) for f in r.findings] == [
        ("low", None, 3, ["Web"])
    ]
    assert r.findings[0].title == "3 policy configuration changes outside working hours by a@x"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"working_hours": (9, 9)}, "working_hours must be two different hours"),
        ({"working_hours": (8, 25)}, "working_hours must be two different hours"),
        ({"working_days": (0, 7)}, "working_days are weekday numbers"),
    ],
)
def test_bad_options(options, message, events_ws):
    ws = events_ws([{"minutes": 0, "action": "organization.session_lifetime.updated", "user_email": "a@x"}])
    with pytest.raises(QueryError, match=message):
        sso_changes(ws, **options)


# -- hand-made cases: setups never applied ---------------------------------------------------------


def _setup(minutes, action, details=None, outcome="success", **extra):
    return {
        "minutes": minutes,
        "action": f"organization.sso.{action}",
        "user_email": "admin@x",
        "ip_address": "10.0.0.1",
        "details": details,
        "outcome": outcome,
        **extra,
    }


# (events, query, titles of the "never applied" findings)
SETUPS = [
    ([_setup(0, "saml.setup.created", SAML), _setup(60, "saml.setup.applied", SAML)], None, []),
    (
        [
            _setup(0, "saml.setup.created", SAML),
            _setup(5, "saml.setup.pending", {"status": "pending"}),
            _setup(60, "saml.setup.applied", SAML),
        ],
        None,
        [],
    ),
    (
        [_setup(0, "saml.setup.created", SAML), _setup(60, "oidc.setup.applied", OIDC_A)],
        None,
        ["SAML setup created"],
    ),
    (
        [_setup(0, "oidc.setup.created", OIDC_A), _setup(60, "oidc.setup.applied", OIDC_B)],
        None,
        ["OIDC setup created"],
    ),
    ([_setup(0, "saml.setup.pending", {"status": "pending"})], None, ["SAML setup pending"]),
    (
        [_setup(0, "saml.setup.applied", SAML), _setup(60, "saml.setup.created", SAML)],
        None,
        ["SAML setup created"],
    ),
    (
        [_setup(0, "saml.setup.created", SAML), _setup(60, "saml.setup.applied", SAML, outcome="failure")],
        None,
        ["SAML setup created"],
    ),
    (
        [_setup(0, "saml.setup.created", SAML), _setup(5, "saml.setup.pending", {"status": "pending"})],
        None,
        ["SAML setup created and pending"],
    ),
    # applied only after the end of the scope: not applied by then
    (
        [_setup(0, "saml.setup.created", SAML), _setup(120, "saml.setup.applied", SAML)],
        "between 2026-10-01T11:00:00Z and 2026-10-01T13:00:00Z",
        ["SAML setup created"],
    ),
    ([_setup(0, "saml.setup.created", SAML, outcome="failure")], None, []),
]


@pytest.mark.parametrize("events, query, titles", SETUPS)
def test_setups_never_applied(events, query, titles, events_ws):
    r = sso_changes(events_ws(events), query=query)
    found = [f for f in r.findings if "never applied" in f.title]
    assert len(found) == len(titles)
    for f, start in zip(found, titles, strict=True):
        assert f.title.startswith(start + " by admin@x from 10.0.0.1")
        assert (f.severity, f.technique) == ("medium", "T1556")


# -- hand-made cases: password logins while SSO is in force ----------------------------------------


def _login(minutes, user, action="user.login", ip="10.0.0.9"):
    return {"minutes": minutes, "action": action, "user_email": user, "ip_address": ip}


def test_password_logins_while_sso_in_force(events_ws):
    events = [
        _login(-10, "dev@x"),  # before SAML: not counted
        _setup(0, "saml.setup.applied", SAML),
        _login(10, "dev@x", "user.sso.saml.login"),
        _login(20, "dev@x", ip="203.0.113.5"),  # a SAML user falls back to a password: low
        _login(30, "dev@x", ip="203.0.113.6"),
        _login(40, "ext@x"),  # never uses SSO: info
        _setup(50, "disabled", {"previous_provider": "saml"}),
        _login(60, "dev@x"),  # SSO off: counted by the disabled finding instead
        _setup(70, "saml.setup.applied", SAML),
        _login(80, "ext@x"),
        {**_login(90, "ext@x"), "outcome": "failure"},  # failures are not logins
    ]
    r = sso_changes(events_ws(events))
    pw = {f.entities["user"][0]: f for f in r.findings if "signed in with a password" in f.title}
    dev, ext = pw["dev@x"], pw["ext@x"]
    assert (dev.severity, dev.technique, dev.count, dev.entities["ip"]) == (
        "low",
        "T1078",
        2,
        ["203.0.113.5", "203.0.113.6"],
    )
    assert (
        dev.title
        == "dev@x signed in with a password 2 times while SAML was in force (the account signs in with SAML)"
    )
    assert (ext.severity, ext.technique, ext.count) == ("info", None, 2)
    assert ext.event_ids == ("e5", "e9")
    disabled = _only(r.findings, "SSO disabled")
    assert disabled.title.endswith(
        "SAML re-applied by admin@x at 2026-10-01T13:10:00Z; 1 password logins meanwhile"
    )


def test_password_login_of_a_saml_user_while_only_oidc_is_in_force_is_not_counted(events_ws):
    events = [
        _setup(0, "oidc.setup.applied", OIDC_A),
        _login(10, "dev@x"),
        _login(20, "partner@x"),
        _login(30, "partner@x", "user.sso.oidc.login"),
        _setup(40, "saml.setup.applied", SAML),
        _login(50, "dev@x", "user.sso.saml.login"),
    ]
    r = sso_changes(events_ws(events))
    pw = [f for f in r.findings if "signed in with a password" in f.title]
    assert [(f.entities["user"], f.severity) for f in pw] == [(["partner@x"], "low")]


def test_empty_workspace(events_ws):
    r = sso_changes(events_ws([]))
    assert r.findings == []
    assert r.tables["timeline"].height == 0
    assert r.parameters == {
        "query": "all time",
        "working_hours": [8, 18],
        "working_days": [0, 1, 2, 3, 4],
        "timezone": "UTC",
    }


def _meanwhile(result):
    """(first seen minute, the "... password logins meanwhile" part) of each SSO-disabled finding."""
    found = [f for f in result.findings if f.title.startswith("SSO disabled")]
    t0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    return [((f.first_seen - t0) // timedelta(minutes=1), f.title.rsplit("; ", 1)[1]) for f in found]


MEANWHILE = [
    _setup(0, "saml.setup.applied", SAML),
    _setup(10, "disabled", {"previous_provider": "saml"}),
    _login(10, "a@x"),  # at the instant of the disable: not after it
    _login(20, "a@x"),
    _login(20, "b@x"),  # two logins at one instant: both count
    _setup(25, "disabled", {"previous_provider": "saml"}),  # a second disable before the same re-apply
    _login(30, "c@x"),
    _setup(40, "saml.setup.applied", SAML),
    _login(40, "a@x"),  # at the instant of the re-apply: not before it
    _setup(50, "disabled", {"previous_provider": "saml"}),  # never re-applied
    _login(60, "a@x"),
    {**_login(65, "a@x"), "outcome": "failure"},  # not a login
    _login(70, "a@x", "user.sso.saml.login"),  # not a password login
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, [(10, "3 password logins meanwhile"), (25, "1 password logins meanwhile"),
                (50, "1 password logins meanwhile")]),
        # the scope's end also ends the count (the login at minute 60 is after it)
        ("between 2026-10-01T12:00:00Z and 2026-10-01T12:55:00Z",
         [(10, "3 password logins meanwhile"), (25, "1 password logins meanwhile"),
          (50, "0 password logins meanwhile")]),
        # the SSO state and the logins come from before the scope's start too
        ("between 2026-10-01T12:24:00Z and 2026-10-01T12:55:00Z",
         [(25, "1 password logins meanwhile"), (50, "0 password logins meanwhile")]),
    ],
)  # fmt: skip
def test_password_logins_meanwhile_counted_for_every_disable_at_once(query, expected, events_ws):
    assert _meanwhile(sso_changes(events_ws(MEANWHILE), query=query)) == expected


def test_sso_providers_of_an_account_are_named_in_order(events_ws):
    # the account signs in with SAML first, then OIDC: named alphabetically, whatever the order seen
    events = [
        _setup(0, "saml.setup.applied", SAML),
        _setup(1, "oidc.setup.applied", OIDC_A),
        _login(10, "dev@x", "user.sso.saml.login"),
        _login(20, "dev@x", "user.sso.oidc.login"),
        _login(30, "dev@x"),
    ]
    (f,) = [f for f in sso_changes(events_ws(events)).findings if "signed in with a password" in f.title]
    assert f.title == (
        "dev@x signed in with a password 1 time while OIDC/SAML was in force (the account signs in with OIDC/SAML)"
    )
    table = sso_changes(events_ws(events)).tables["password_logins"]
    assert table["sso_providers"].to_list() == [["oidc", "saml"]]
