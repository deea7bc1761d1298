"""The declared Detection form: validation in one place, the kinds, the scope and identity rules in
every grouping, findings per incident, user rule files (Python, CLI), the fifth detection."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import auditlab
from auditlab.cli import main
from auditlab.errors import QueryError
from auditlab.filters.model import Query
from auditlab.investigations import run_all
from auditlab.investigations._common import Scope, scope_query
from auditlab.investigations.data_exports import data_exports
from auditlab.investigations.detection import Detection, compile_sql, load_rules, run_detection
from auditlab.investigations.detections import DETECTIONS, EXPORT_ACTIONS
from auditlab.investigations.failed_logins import failed_logins
from auditlab.investigations.pat_revocations import pat_revocations
from auditlab.investigations.sso_changes import sso_changes

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "portal_audit_export.zip"
BASE = {"name": "r", "kind": "count", "title": "{count} by {user}"}


def _fails(user, ip, minutes, action="user.login"):
    return [{"minutes": m, "action": action, "outcome": "failure", "user_email": user, "ip_address": ip}
            for m in minutes]  # fmt: skip


def _ok(user, ip, minutes):
    return [{"minutes": m, "action": "user.login", "user_email": user, "ip_address": ip} for m in minutes]


# -- the form: every field checked in one place ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "median"}, "kind: 'median' is not one of count, distinct, sequence, first_seen, spike"),
        ({"window": "15x"}, "window: bad time bucket '15x'"),
        ({"window": "1mo"}, "window: use s, m, h, d or w for a window, got '1mo'"),
        ({"window": timedelta(0)}, "window must be a positive duration"),
        ({"threshold": 0}, "threshold: a positive number, got 0"),
        ({"threshold": True}, "threshold: a positive number, got True"),
        ({"severity": "urgent"}, "severity: 'urgent' is not one of info, low, medium, high, critical"),
        ({"group_by": "email"}, "group_by: 'email' is not a canonical column"),
        ({"where": "outcome iz failure"}, "where: cannot read filter 'outcome iz failure'"),
        ({"where": "outcome is failure; since 7d"}, "where: no time clause here"),
        ({"entities": {"person": "user_email"}}, "entities: 'person' is not one of"),
        ({"title": "{count} by {actor}"}, "title: unknown placeholder 'actor'"),
        ({"incident": "all"}, "incident: 'all' is not one of group, overlap"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"name": ""}, "name: required, a non-empty text"),
        ({"kind": "distinct"}, "distinct: a distinct detection needs the column it watches"),
        ({"kind": "sequence", "group_by": "user_email"}, "then: a sequence detection needs"),
    ],
)
def test_bad_fields_are_named(change, message):
    with pytest.raises(QueryError, match=re.escape(f"rules/x.yaml: {message}")):
        Detection.from_dict({**BASE, **change}, source="rules/x.yaml")


def test_durations_take_one_form():
    assert Detection.from_dict({**BASE, "window": "90s"}).window == timedelta(seconds=90)
    assert Detection.from_dict({**BASE, "window": timedelta(hours=2)}).window == timedelta(hours=2)
    d = Detection.from_dict({**BASE, "window": "1h"}).with_(threshold=7)
    assert (d.threshold, d.window) == (7, timedelta(hours=1))


@pytest.mark.parametrize("name", sorted(DETECTIONS))
def test_builtins_compile_to_named_parameters_only(name):
    sql, params = compile_sql(DETECTIONS[name])
    assert "?" not in sql
    assert set(re.findall(r"\$([a-z_]\w*)", sql)) <= set(params)
    assert DETECTIONS[name].to_dict()["name"] == name


# -- the scope rule -------------------------------------------------------------------------------


def test_scope_rule_text_without_time_clause_is_all_time():
    assert scope_query(None).to_text() == "all time"
    assert scope_query("user_email is a@x").to_text() == "user_email is a@x; all time"
    assert scope_query("user_email is a@x; since 7d").to_text() == "user_email is a@x; since 7d"
    assert scope_query(Query(time_range="7d")).time_range.preset == "7d"  # a Query carries its range


def test_scope_rule_on_failed_logins(events_ws):
    # the brute force is 3 days before the newest event: a text query without a time clause still sees it
    ws = events_ws(_fails("u@x", "1.1.1.1", range(5)) + _ok("v@x", "2.2.2.2", [3 * 24 * 60]))
    assert len(failed_logins(ws, query="user_email is u@x").findings) == 1
    assert failed_logins(ws, query="user_email is u@x; since 24h").findings == []
    assert failed_logins(ws, query="user_email is u@x").parameters["query"] == "user_email is u@x; all time"


# -- the identity rule in every grouping -----------------------------------------------------------


def test_user_case_does_not_split_a_brute_force(events_ws):
    ws = events_ws(_fails("Bob@X.example", "1.1.1.1", [0, 1]) + _fails("bob@x.example", "1.1.1.1", [2, 3])
                   + _fails("BOB@x.EXAMPLE", "1.1.1.1", [4]))  # fmt: skip
    (f,) = failed_logins(ws).findings
    assert f.title == "Brute force against bob@x.example: 5 failed logins in 4 min from 1.1.1.1"
    assert f.entities["user"] == ["bob@x.example"]


def test_ipv6_spelling_does_not_split_a_spray_and_user_case_is_one_user(events_ws):
    spellings = ["2001:db8::7", "2001:DB8:0:0:0:0:0:7", "2001:0db8::0007", "[2001:db8::7]"]
    rows = [e for i in range(10) for e in _fails(f"u{i}@x", spellings[i % 4], [i * 0.2])]
    rows += _fails("U0@X", "2001:db8::7", [2.5])  # the same user as u0@x: still 10 users
    (f,) = failed_logins(events_ws(rows), spray_users=10).findings
    assert f.title.startswith("Password spray from 2001:db8::7: 10 users failed")
    assert f.entities["ip"] == ["2001:db8::7"] and len(f.entities["user"]) == 10
    assert failed_logins(events_ws(rows), spray_users=11).findings == []


def test_identity_rule_in_success_after_failures_and_new_address(events_ws):
    rows = (
        _ok("ann@x", "2001:db8::1", [0]) + _ok("Ann@X", "2001:DB8:0::1", [8 * 24 * 60])  # not a new address
        + _fails("ANN@x", "10.0.0.1", [9 * 24 * 60 + m for m in (0, 1, 2)]) + _ok("ann@X", "10.0.0.1", [9 * 24 * 60 + 3])
    )  # fmt: skip
    found = failed_logins(events_ws(rows)).findings
    assert [(f.severity, f.title) for f in found] == [
        ("critical", "ann@x logged in from new address 10.0.0.1 after 3 failed logins in 3 min")
    ]


def test_identity_rule_in_token_owners_and_api_users(events_ws):
    rows = [
        {"minutes": 0, "action": "user.pat.all_revoked", "user_email": "Dev@X", "ip_address": "10.0.0.1",
         "details": {"owner_email": "dev@x", "token_ids": ["t1"]}},
        {"minutes": 5, "action": "version.uploaded", "user_email": "DEV@x", "ip_address": "10.0.0.2",
         "auth_context": "api"},
    ]  # fmt: skip
    (f,) = pat_revocations(events_ws(rows)).findings  # not "revoked by someone else": the owner
    assert (f.technique, f.entities["user"]) == ("T1550.001", ["dev@x"])


def test_identity_rule_in_sso_groupings(events_ws):
    sat = {"minutes": 24 * 60 * 4 + 60 * 11}  # Sunday 2026-10-04 23:00 UTC: outside working hours
    rows = [
        {**sat, "action": "organization.policy_configuration.updated", "user_email": "Admin@X"},
        {"minutes": sat["minutes"] + 1, "action": "organization.policy_configuration.updated", "user_email": "admin@x"},
        {"minutes": 0, "action": "organization.sso.saml.setup.applied", "user_email": "admin@x"},
        *_ok("Pat@X", "10.0.0.1", [10]),
        *_ok("pat@x", "10.0.0.1", [20]),
    ]  # fmt: skip
    titles = [f.title for f in sso_changes(events_ws(rows)).findings]
    assert "2 policy configuration changes outside working hours by admin@x" in titles
    assert any(t.startswith("pat@x signed in with a password 2 times") for t in titles)


# -- findings per incident -------------------------------------------------------------------------


def test_a_spray_from_several_addresses_is_one_incident(events_ws):
    rows = [e for i in range(12) for e in _fails(f"u{i}@x", f"198.51.100.{i % 2}", [i * 0.2])]
    rows += [
        e for i in range(10) for e in _fails(f"w{i}@x", "198.51.100.9", [300 + i * 0.1])
    ]  # later: its own
    found = failed_logins(events_ws(rows), spray_users=6).findings
    assert [(f.entities["ip"], len(f.entities["user"]), f.count) for f in found] == [
        (["198.51.100.0", "198.51.100.1"], 12, 12),
        (["198.51.100.9"], 10, 10),
    ]
    assert found[0].title.startswith("Password spray from 198.51.100.0, 198.51.100.1: 12 users failed")


# -- titles never show None or ? -------------------------------------------------------------------


def test_titles_name_what_is_missing(events_ws):
    (f,) = failed_logins(events_ws(_fails("u@x", None, range(5)))).findings
    assert f.title == "Brute force against u@x: 5 failed logins in 4 min from an unknown address"
    det = Detection.from_dict({**BASE, "title": "{count} exports by {user} of {project}",
                               "entities": {"user": "user_email", "project": "project_name"}})  # fmt: skip
    with Scope(events_ws(_ok("u@x", "1.1.1.1", [0]))) as scope:
        (g,) = run_detection(det, scope)
    assert g.title == "1 exports by u@x of an unknown project"
    assert "None" not in g.title and "?" not in g.title


# -- the spike kind --------------------------------------------------------------------------------


def test_spike_against_the_group_baseline(events_ws):
    det = Detection.from_dict({"name": "upload_spike", "kind": "spike", "title": "{peak} uploads by {key}",
                               "actions": ["version.uploaded"], "group_by": "user_email", "window": "1h",
                               "baseline": "1d", "threshold": 5, "factor": 10})  # fmt: skip
    quiet = [{"minutes": m * 60, "action": "version.uploaded", "user_email": "ci@x"} for m in range(24)]
    burst = [{"minutes": 24 * 60 + m, "action": "version.uploaded", "user_email": "ci@x"} for m in range(12)]
    busy = [{"minutes": m * 5, "action": "version.uploaded", "user_email": "busy@x"} for m in range(12 * 26)]
    with Scope(events_ws(quiet + burst + busy)) as scope:
        found = run_detection(det, scope)
    # ci@x: 1 per hour, then 12 in 11 min (above 10 x its baseline); busy@x: 12 per hour all day long
    assert [(f.title, f.count) for f in found] == [("12 uploads by ci@x", 12)]


# -- user rules ------------------------------------------------------------------------------------

RULE_YAML = """\
name: pat_created_by_api
title: "{count} tokens created through the API by {key}"
kind: count
actions: [user.pat.created]
where: auth_context is api
group_by: user_email
window: 1h
threshold: 2
severity: low
technique: T1098.001
"""
RULE_TOML = """\
[[detections]]
name = "sso_disabled"
title = "SSO disabled by {user}"
kind = "count"
actions = ["organization.sso.disabled"]
where = ["outcome is success"]
threshold = 1
window = "1m"
severity = "high"
technique = "T1556"
incident = "overlap"
"""


@pytest.fixture
def rules_dir(tmp_path):
    (tmp_path / "api_tokens.yaml").write_text(RULE_YAML, encoding="utf-8")
    (tmp_path / "sso.toml").write_text(RULE_TOML, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a rule", encoding="utf-8")
    return tmp_path


def test_run_all_runs_the_users_rules_beside_the_built_in_ones(sample_ws, rules_dir):
    results = run_all(sample_ws, names=["sso_changes"], rules=rules_dir)
    assert [r.name for r in results] == ["sso_changes", "rules"]
    (sso,) = [f for f in results[1].findings if f.technique == "T1556"]
    assert sso.title == "SSO disabled by xenia.ortiz@acme.example"
    native = [f for f in results[0].findings if f.title.startswith("SSO disabled")]
    assert sso.event_ids == native[0].event_ids and sso.investigation == "rules"
    assert results[1].parameters["detections"] == ["pat_created_by_api", "sso_disabled"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.yaml", RULE_YAML.replace("threshold: 2", "threshold: two"), "bad.yaml: threshold: a positive number"),
        ("bad.toml", RULE_TOML.replace('window = "1m"', 'window = "1 fortnight"'), "bad.toml: window: bad time"),
        ("bad.yaml", "name: [unclosed", "bad.yaml: not valid YAML"),
        ("sigma.yml", "title: x\nlogsource: {product: p}\ndetection: {sel: {a: 1}, condition: sel}\n",
         "sigma.yml: this is a Sigma rule; --rules reads auditlab's declared form"),
    ],
)  # fmt: skip
def test_bad_rule_files_name_file_and_field(tmp_path, name, text, message):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(QueryError, match=re.escape(message)):
        load_rules(tmp_path)
    result = CliRunner().invoke(main, ["investigate", str(SAMPLE), "--rules", str(tmp_path / name)])
    assert result.exit_code == 2 and message in result.output


def test_duplicate_rule_names_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(RULE_YAML, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(RULE_YAML, encoding="utf-8")
    with pytest.raises(QueryError, match="'pat_created_by_api' is declared more than once"):
        load_rules(tmp_path)


def test_cli_investigate_with_rules(rules_dir):
    result = CliRunner().invoke(
        main, ["investigate", str(SAMPLE), "--only", "failed_logins", "--rules", str(rules_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert [f["investigation"] for f in findings].count("rules") == 1
    assert {f["title"] for f in findings if f["investigation"] == "rules"} == {
        "SSO disabled by xenia.ortiz@acme.example"
    }


# -- the fifth detection, a declaration ------------------------------------------------------------


def test_export_burst(events_ws):
    rows = [{"minutes": i * 0.4, "action": EXPORT_ACTIONS[i % len(EXPORT_ACTIONS)], "user_email": "Eve@X",
             "ip_address": "203.0.113.5", "project_name": f"p{i % 3}"} for i in range(20)]  # fmt: skip
    rows += [
        {"minutes": 60 + i, "action": "version.report.sarif.exported", "user_email": "ci@x"}
        for i in range(30)
    ]
    (f,) = data_exports(events_ws(rows)).findings
    assert (f.severity, f.technique, f.count) == ("medium", "T1530", 20)
    assert f.title == "20 report and profile exports by eve@x in 8 min from 203.0.113.5"
    assert f.entities == {"user": ["eve@x"], "ip": ["203.0.113.5"], "project": ["p0", "p1", "p2"]}
    assert data_exports(events_ws(rows[:19])).findings == []


def test_export_burst_is_silent_on_the_sample_and_control(sample_ws, control_ws):
    assert data_exports(sample_ws).findings == data_exports(control_ws).findings == []


def test_scope_is_materialised_once_and_dropped(sample_ws):
    before = sample_ws.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
    run_all(sample_ws)
    after = sample_ws.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()
    assert before == after
    with Scope(sample_ws, "since 7d") as scope:
        assert scope.count() == auditlab.QueryResult(sample_ws, "since 7d").count()
    assert dataclasses.is_dataclass(DETECTIONS["brute_force"])
