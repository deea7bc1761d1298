"""pat_revocations: INC-04 on the sample, a clean control sample, burst edges, owners, API use after revocation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from auditlab.errors import QueryError
from auditlab.investigations.pat_revocations import pat_revocations


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def sample_result(sample_ws):
    return pat_revocations(sample_ws)


# -- the committed sample ------------------------------------------------------------------------


def test_reports_mass_revocation_and_api_use_after_it(sample_result, incidents):
    inc = incidents["mass_pat_revocation"]
    start, end = parse_ts(inc["start"]), parse_ts(inc["end"])
    org, api = sample_result.findings
    assert (org.severity, org.technique) == ("high", "T1531")
    assert (
        org.title
        == "anna.xu@acme.example revoked every personal access token of acme (49 tokens of 27 users)"
    )
    assert org.entities == {"user": ["anna.xu@acme.example"], "ip": ["10.20.0.1"]}
    assert org.first_seen == org.last_seen == start
    assert set(org.event_ids) <= set(inc["event_ids"])
    assert (api.severity, api.technique) == ("high", "T1550.001")
    assert sorted(api.entities["user"]) == sorted(inc["users"])
    assert sorted(api.entities["ip"]) == sorted(inc["ips"])
    assert (api.first_seen, api.last_seen) == (start, end)
    assert set(api.event_ids) == set(inc["event_ids"])
    assert api.count == 3
    assert api.title == (
        "ci-payments@acme.example used the API 2 time(s) from 10.30.0.12 after all their tokens were revoked "
        "(organization.pat.all_revoked by anna.xu@acme.example) and before a new token was created"
    )


def test_control_sample_has_no_finding(control_ws):
    result = pat_revocations(control_ws)
    assert result.findings == []
    assert result.tables["revocations"]["by_owner"].all()
    assert result.tables["api_after_revocation"].height == 0


def test_benign_developer_pattern_is_not_flagged(sample_result):
    """nora.lorenz revokes all her tokens (2026-10-14), creates a new one, then uses the API."""
    revs = sample_result.tables["revocations"]
    nora = revs.filter(revs["action"] == "user.pat.all_revoked").row(0, named=True)
    assert (nora["actor"], nora["owner"], nora["by_owner"], nora["tokens"]) == (
        "nora.lorenz@acme.example",
        "nora.lorenz@acme.example",
        True,
        1,
    )
    assert sample_result.tables["api_after_revocation"]["user_email"].to_list() == [
        "ci-payments@acme.example"
    ]


def test_tables(sample_result):
    t = sample_result.tables
    revs = t["revocations"]
    assert revs["action"].to_list() == [
        "user.pat.revoked",
        "user.pat.all_revoked",
        "user.pat.revoked",
        "user.pat.revoked",
        "organization.pat.all_revoked",
    ]
    org = revs.row(4, named=True)
    assert (org["owner"], org["tokens"], org["affected_users"], org["by_owner"]) == (None, 49, 27, False)
    life = t["token_lifecycles"]
    assert life.height == 48
    jenkins = life.filter(life["token_name"] == "nora.lorenz-jenkins-2").row(0, named=True)
    assert (jenkins["revoked_via"], jenkins["lifetime"]) == ("user.pat.revoked", timedelta(minutes=30))
    by_org = life.filter(life["revoked_via"] == "organization.pat.all_revoked")
    assert set(by_org["revoked_by"]) == {"anna.xu@acme.example"}
    assert (by_org["created_at"] < parse_ts("2026-10-26T09:12:21.264Z")).all()
    olga = life.filter(life["owner"] == "ext.olga.novak@acme.example").row(0, named=True)
    assert (olga["created_ip"], olga["created_via"]) == ("203.0.113.118", "portal")  # INC-03's related token
    # the 17 tokens created after the organization-wide revocation are still active
    after = life.filter(life["created_at"] > parse_ts("2026-10-26T09:12:21.264Z"))
    assert (after.height, after["revoked_at"].null_count()) == (17, 17)
    timeline = t["pat_timeline"]
    assert timeline["count"].sum() == 50  # 45 created, 3 revoked, 1 all_revoked, 1 organization-wide


def test_chart(sample_result):
    spec = sample_result.charts()["pat_timeline"].to_dict()
    assert spec["title"] == "Token events per day (UTC)"
    assert len(next(iter(spec["datasets"].values()))) == sample_result.tables["pat_timeline"].height


def test_query_scopes_the_events(sample_ws):
    before = pat_revocations(sample_ws, query="until 2026-10-26T00:00:00Z")
    assert before.findings == []
    assert before.parameters["query"] == "until 2026-10-26T00:00:00Z"
    # without the API events in scope, API use cannot be seen
    only_pat = pat_revocations(
        sample_ws, query="action is any user.pat.created, organization.pat.all_revoked; all time"
    )
    assert [f.technique for f in only_pat.findings] == ["T1531"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"burst_revocations": 0}, "burst_revocations must be an integer of at least 1, got 0"),
        ({"burst_window": "soon"}, "burst_window: bad time bucket 'soon'"),
    ],
)
def test_bad_thresholds(sample_ws, kwargs, message):
    with pytest.raises(QueryError, match=message):
        pat_revocations(sample_ws, **kwargs)


# -- hand-made events ------------------------------------------------------------------------------

SEC = 1 / 60


def _created(user, token, minutes, *, via="portal", ip="10.0.0.1"):
    return {"minutes": minutes, "action": "user.pat.created", "user_email": user, "ip_address": ip,
            "auth_context": via, "resource_type": "user", "resource_name": user,
            "details": {"token_id": token, "token_name": f"{token}-name", "expires_at": "2027-01-01T00:00:00Z"}}  # fmt: skip


def _revoked(actor, owner, token, minutes, *, ip="10.0.0.1"):
    return {"minutes": minutes, "action": "user.pat.revoked", "user_email": actor, "ip_address": ip,
            "resource_type": "user", "resource_name": owner,
            "details": {"token_id": token, "token_name": f"{token}-name", "owner_email": owner}}  # fmt: skip


def _all_revoked(actor, owner, tokens, minutes, *, ip="10.0.0.1"):
    return {"minutes": minutes, "action": "user.pat.all_revoked", "user_email": actor, "ip_address": ip,
            "resource_type": "user", "resource_name": owner,
            "details": {"owner_email": owner, "revoked_count": len(tokens), "token_ids": tokens}}  # fmt: skip


def _org_revoked(actor, minutes, *, ip="10.0.0.9"):
    return {"minutes": minutes, "action": "organization.pat.all_revoked", "user_email": actor, "ip_address": ip,
            "resource_type": "organization", "resource_name": "acme",
            "details": {"revoked_count": 3, "affected_users": 2}}  # fmt: skip


def _api(user, minutes, *, ip="10.30.0.1", action="version.uploaded"):
    return {"minutes": minutes, "action": action, "user_email": user, "ip_address": ip, "auth_context": "api"}


BURST_CASES = [
    ("5 own revocations in exactly 15 min", [_revoked("u", "u", f"t{i}", m) for i, m in enumerate([0, 5, 10, 12, 15])],
     [("medium", 5)]),
    ("5 in 15 min and 1 s", [_revoked("u", "u", f"t{i}", m) for i, m in enumerate([0, 5, 10, 12, 15 + SEC])], []),
    ("4 in a minute", [_revoked("u", "u", f"t{i}", i * 0.1) for i in range(4)], []),
    ("5 by an admin, several owners", [_revoked("admin", f"o{i}", f"t{i}", i) for i in range(5)], [("high", 5)]),
    ("all_revoked counts once", [_all_revoked("u", "u", [f"t{i}" for i in range(9)], 0)], []),
    ("two bursts far apart",
     [_revoked("u", "u", f"t{i}", m) for i, m in enumerate([0, 1, 2, 3, 4, 60, 61, 62, 63, 64])],
     [("medium", 5), ("medium", 5)]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "expected"), BURST_CASES, ids=[c[0] for c in BURST_CASES])
def test_burst_window(events_ws, case, events, expected):
    found = pat_revocations(events_ws(events)).findings
    assert [(f.severity, f.count) for f in found if f.title.startswith("Burst")] == expected
    # revocations inside a burst are not reported again one by one
    assert all(f.title.startswith("Burst") for f in found)


def test_burst_entities(events_ws):
    (f,) = pat_revocations(events_ws([_revoked("admin", f"o{i}", f"t{i}", i) for i in range(5)])).findings
    assert f.title == "Burst of 5 token revocations by admin (5 tokens of o0, o1, o2 and 2 more)"
    assert f.entities == {"user": ["admin", "o0", "o1", "o2", "o3", "o4"], "ip": ["10.0.0.1"],
                          "token": ["t0", "t1", "t2", "t3", "t4"]}  # fmt: skip
    assert f.event_ids == ("e0", "e1", "e2", "e3", "e4")


def test_revocation_by_someone_else(events_ws):
    ws = events_ws(
        [
            _created("bob", "t1", 0),
            _revoked("admin", "bob", "t1", 60),
            _all_revoked("admin", "carol", ["t7", "t8"], 90),
        ]
    )
    found = pat_revocations(ws).findings
    assert [(f.severity, f.technique, f.title, f.entities, f.event_ids) for f in found] == [
        ("medium", "T1531", "admin revoked 1 token(s) of bob",
         {"user": ["admin", "bob"], "ip": ["10.0.0.1"], "token": ["t1"]}, ("e1",)),
        ("medium", "T1531", "admin revoked 2 token(s) of carol",
         {"user": ["admin", "carol"], "ip": ["10.0.0.1"], "token": ["t7", "t8"]}, ("e2",)),
    ]  # fmt: skip


def test_owner_comparison_ignores_case(events_ws):
    assert pat_revocations(events_ws([_revoked("Bob@X", "bob@x", "t1", 0)])).findings == []


API_CASES = [
    ("all revoked by the owner, then API use", [_all_revoked("u", "u", ["t1"], 0), _api("u", 10)], [("u", 2)]),
    ("revoked, new token, then API use", [_all_revoked("u", "u", ["t1"], 0), _created("u", "t2", 5), _api("u", 10)], []),
    ("new token through the API ends the gap",
     [_all_revoked("u", "u", ["t1"], 0), _created("u", "t2", 5, via="api"), _api("u", 10)], []),
    ("one token revoked: others may remain", [_revoked("u", "u", "t1", 0), _api("u", 10)], []),
    ("API use before the revocation", [_api("u", 0), _all_revoked("u", "u", ["t1"], 5)], []),
    ("API use at the same instant as the revocation", [_all_revoked("u", "u", ["t1"], 5), _api("u", 5)], []),
    ("portal use after revocation", [_all_revoked("u", "u", ["t1"], 0), {**_api("u", 10), "auth_context": "portal"}], []),
    ("organization-wide: every API user, one finding (one cause)",
     [_org_revoked("admin", 0), _api("u", 10), _api("v", 20), _created("w", "t9", 25), _api("w", 30)],
     [("u", 3)]),
    ("a later revocation starts a new gap",
     [_all_revoked("u", "u", ["t1"], 0), _api("u", 5), _created("u", "t2", 10), _all_revoked("u", "u", ["t2"], 20),
      _api("u", 25), _api("u", 26)],
     [("u", 2), ("u", 3)]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "expected"), API_CASES, ids=[c[0] for c in API_CASES])
def test_api_after_revocation(events_ws, case, events, expected):
    found = [f for f in pat_revocations(events_ws(events)).findings if f.technique == "T1550.001"]
    assert [(f.entities["user"][0], f.count) for f in found] == expected
    for f in found:
        assert f.severity == "high"
        assert f.event_ids[0] in {e.get("event_id", f"e{n}") for n, e in enumerate(events)}


#: The last token event before an API call decides; at one instant a revocation beats a creation, then the
#: smaller event id (the user's own marks and the organization-wide ones are matched apart, then compared).
API_TIE_CASES = [
    ("org-wide revocation at the instant of the user's new token",
     [_created("u", "t1", 5), _org_revoked("admin", 5), _api("u", 10)], [("e1", ("e1", "e2"))]),
    ("the user's own revocation at the instant of their new token",
     [_created("u", "t2", 5), _all_revoked("u", "u", ["t1"], 5), _api("u", 10)], [("e1", ("e1", "e2"))]),
    ("own and org-wide revocation at one instant: the smaller event id",
     [_org_revoked("admin", 5), _all_revoked("u", "u", ["t1"], 5), _api("u", 10)], [("e0", ("e0", "e2"))]),
    ("two org-wide revocations at one instant: one cause",
     [_org_revoked("b", 0), _org_revoked("a", 0), _api("u", 10), _api("v", 11)], [("e0", ("e0", "e2", "e3"))]),
    ("a new token after the org-wide revocation ends the gap",
     [_org_revoked("admin", 0), _created("u", "t2", 5), _api("u", 10)], []),
    ("the user's own revocation after the org-wide one is the cause",
     [_org_revoked("admin", 0), _api("u", 2), _all_revoked("u", "u", ["t1"], 5), _api("u", 10)],
     [("e0", ("e0", "e1")), ("e2", ("e2", "e3"))]),
    ("a token created, API use, then an org-wide revocation", [_created("u", "t1", 0), _api("u", 5),
     _org_revoked("admin", 7), _api("u", 10)], [("e2", ("e2", "e3"))]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "events", "expected"), API_TIE_CASES, ids=[c[0] for c in API_TIE_CASES])
def test_api_after_revocation_marks_and_ties(events_ws, case, events, expected):
    found = [f for f in pat_revocations(events_ws(events)).findings if f.technique == "T1550.001"]
    assert [(f.event_ids[0], f.event_ids) for f in found] == expected


def test_api_after_revocation_evidence(events_ws):
    ws = events_ws([_org_revoked("admin", 0), _api("u", 10, ip="1.2.3.4"), _api("u", 11, ip="1.2.3.5")])
    by_tech = {f.technique: f for f in pat_revocations(ws).findings}
    f = by_tech["T1550.001"]
    assert f.entities == {"user": ["u", "admin"], "ip": ["1.2.3.4", "1.2.3.5", "10.0.0.9"]}
    assert f.event_ids == ("e0", "e1", "e2")
    assert (f.last_seen - f.first_seen) == timedelta(minutes=11)
    assert by_tech["T1531"].title == "admin revoked every personal access token of acme (3 tokens of 2 users)"


def test_api_after_one_org_wide_revocation_is_one_finding_per_incident(events_ws):
    ws = events_ws([_org_revoked("admin", 0), _api("v", 10, ip="1.2.3.5"), _api("U", 11, ip="1.2.3.4"),
                    _api("u", 12, ip="1.2.3.4"), _all_revoked("x", "x", ["t5"], 13), _api("x", 14)])  # fmt: skip
    found = [f for f in pat_revocations(ws).findings if f.technique == "T1550.001"]
    assert [(f.title, f.entities, f.event_ids) for f in found] == [
        ("u, v used the API 3 time(s) from 1.2.3.4, 1.2.3.5 after all their tokens were revoked "
         "(organization.pat.all_revoked by admin) and before a new token was created",
         {"user": ["u", "v", "admin"], "ip": ["1.2.3.4", "1.2.3.5", "10.0.0.9"]}, ("e0", "e1", "e2", "e3")),
        ("x used the API 1 time(s) from 10.30.0.1 after all their tokens were revoked (user.pat.all_revoked by x) "
         "and before a new token was created", {"user": ["x"], "ip": ["10.30.0.1", "10.0.0.1"]}, ("e4", "e5")),
    ]  # fmt: skip


def test_lifecycles(events_ws):
    ws = events_ws(
        [
            _created("u", "t1", 0),
            _created("u", "t2", 10, via="api", ip="10.30.0.1"),
            _revoked("u", "u", "t1", 70),
            _org_revoked("admin", 120),
            _created("u", "t3", 130),
            _revoked("u", "u", "t0", 140),  # created before the scope
        ]
    )
    life = pat_revocations(ws).tables["token_lifecycles"]
    rows = {r["token_id"]: r for r in life.iter_rows(named=True)}
    assert life["token_id"].to_list() == ["t1", "t2", "t3", "t0"]
    assert (rows["t1"]["revoked_via"], rows["t1"]["revoked_by"], rows["t1"]["lifetime"]) == (
        "user.pat.revoked",
        "u",
        timedelta(minutes=70),
    )
    assert (
        rows["t2"]["created_via"],
        rows["t2"]["revoked_via"],
        rows["t2"]["revoked_ip"],
        rows["t2"]["lifetime"],
    ) == (
        "api",
        "organization.pat.all_revoked",
        "10.0.0.9",
        timedelta(minutes=110),
    )
    assert rows["t3"]["revoked_at"] is None
    assert (rows["t0"]["created_at"], rows["t0"]["owner"], rows["t0"]["lifetime"]) == (None, "u", None)
    assert rows["t1"]["expires_at"] == parse_ts("2027-01-01T00:00:00Z")


def test_empty_workspace(events_ws):
    result = pat_revocations(events_ws([]))
    assert result.findings == []
    assert [t.height for t in result.tables.values()] == [0, 0, 0, 0]
