"""Sigma out: the exported rules validate with pySigma, convert for Splunk and ES|QL, and, converted
through pySigma's SQLite backend and run on the sample events, find the same incidents as the native
detections (a differential test)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from sigma.backends.elasticsearch import ESQLBackend
from sigma.backends.splunk import SplunkBackend
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

import auditlab
from auditlab.errors import InputError, QueryError
from auditlab.investigations._common import Scope
from auditlab.investigations.detection import run_detection
from auditlab.investigations.detections import (
    BRUTE_FORCE,
    DETECTIONS,
    EXPORT_BURST,
    PASSWORD_SPRAY,
    REVOCATION_BURST,
    SUCCESS_AFTER_FAILURES,
)
from auditlab.sigma import NOT_EXPORTED, PIPELINE_YAML, detection_rules, export_sigma, pipeline, sigma_rules

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "portal_audit_export.zip"
COLUMNS = ("event_id", "timestamp", "action", "outcome", "user_email", "ip_address", "auth_context")


@pytest.fixture(scope="module")
def sample_ws():
    return auditlab.load(SAMPLE)


@pytest.fixture(scope="module")
def sqlite_events(sample_ws):
    """The sample's events in SQLite (ISO timestamps), and rowid -> event_id."""
    rows = sample_ws.con.execute(
        "SELECT event_id, strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%g') || 'Z', action, outcome, user_email, "
        "ip_address, auth_context FROM events ORDER BY timestamp, event_id"
    ).fetchall()
    con = sqlite3.connect(":memory:")
    con.execute(f"CREATE TABLE events ({', '.join(COLUMNS)})")
    con.executemany(f"INSERT INTO events VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    ids = dict(con.execute("SELECT rowid, event_id FROM events").fetchall())
    return con, ids


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("sigma")
    return out, export_sigma(out)


def _collection(rules):
    return SigmaCollection.from_dicts([json.loads(json.dumps(r)) for r in rules])


def _sigma_incidents(con, ids, rules):
    """group value -> the evidence event ids of every alert of that group (or '*' without grouping)."""
    (query,) = sqliteBackend(pipeline(), table="events").convert(_collection(rules))
    cur = con.execute(query)
    names = [d[0] for d in cur.description]
    found: dict[str, set[str]] = {}
    for row in cur.fetchall():
        rec = dict(zip(names, row, strict=True))
        if "group_keys" in rec:  # a correlation alert: evidence as "e:<rule>:<rowid>"
            keys = json.loads(rec["group_keys"]) or {}
            key = "|".join(str(v).lower() for v in keys.values()) or "*"
            evidence = {ids[int(e.rsplit(":", 1)[1])] for e in json.loads(rec["event_ids"])}
        else:  # a plain rule: the matching events
            key, evidence = rec["event_id"], {rec["event_id"]}
        found.setdefault(key, set()).update(evidence)
    return found


def _native_incidents(ws, det):
    with Scope(ws) as scope:
        findings = run_detection(det, scope)
    group = {"user_email": "user", "ip_address": "ip"}.get(det.group_by or "")
    found: dict[str, set[str]] = {}
    for f in findings:
        for key in f.entities[group] if group else ["*"]:
            found.setdefault(key, set()).update(f.event_ids)
    return found


@pytest.mark.parametrize(
    "det",
    [
        BRUTE_FORCE,
        PASSWORD_SPRAY,
        dataclasses.replace(EXPORT_BURST, threshold=4),  # several users at 4 exports in 10 min
        dataclasses.replace(BRUTE_FORCE, threshold=2, window=BRUTE_FORCE.window * 4),  # many small groups
        dataclasses.replace(REVOCATION_BURST, threshold=3),  # no grouping: the whole scope
    ],
    ids=["brute_force", "password_spray", "export_burst_4", "brute_force_2_in_1h", "revocation_burst_3"],
)
def test_sigma_finds_the_same_incidents_as_the_native_detection(sample_ws, sqlite_events, det):
    con, ids = sqlite_events
    native = _native_incidents(sample_ws, det)
    sigma = _sigma_incidents(con, ids, sigma_rules([det]))
    assert sigma == native
    if det in (BRUTE_FORCE, PASSWORD_SPRAY):
        assert len(native) == 1  # the planted incident


def test_single_event_rules_match_the_native_findings(sample_ws, sqlite_events):
    con, ids = sqlite_events
    results = {r.name: r for r in auditlab.run_all(sample_ws, names=["sso_changes", "pat_revocations"])}
    by_rule = {r["name"]: r for r in sigma_rules() if "detection" in r and "correlation" not in r}
    sso = [f for f in results["sso_changes"].findings if f.title.startswith("SSO disabled")]
    org = [f for f in results["pat_revocations"].findings if "revoked every personal access token" in f.title]
    for rule, findings in (
        (by_rule["auditlab_sso_disabled"], sso),
        (by_rule["auditlab_org_pat_all_revoked"], org),
    ):
        found = _sigma_incidents(con, ids, [rule])
        assert set(found) == {i for f in findings for i in f.event_ids}
        assert len(found) == 1


def test_exported_files_validate_with_pysigma(exported):
    out, paths = exported
    rules = [p for p in paths if p.parent.name == "rules"]
    assert sorted(p.name for p in rules) == [
        "auditlab_brute_force.yml", "auditlab_export_burst.yml", "auditlab_org_pat_all_revoked.yml",
        "auditlab_password_spray.yml", "auditlab_revocation_burst.yml", "auditlab_sso_disabled.yml",
    ]  # fmt: skip
    collection = SigmaCollection.load_ruleset([str(out / "rules")])
    kinds = sorted(type(r).__name__ for r in collection.rules)
    assert kinds == ["SigmaCorrelationRule"] * 4 + ["SigmaRule"] * 6
    assert not [e for r in collection.rules for e in r.errors]
    from sigma.plugins import InstalledSigmaPlugins
    from sigma.validation import SigmaValidator

    # every installed validator but those that download reference data (ATT&CK, CAR, D3FEND: no network here)
    validators = {
        k: v for k, v in InstalledSigmaPlugins.autodiscover().validators.items()
        if k not in ("attacktag", "cartag", "d3_fendtag")
    }  # fmt: skip
    assert len(validators) >= 20
    issues = SigmaValidator(validators.values()).validate_rules(collection.rules)
    assert [type(i).__name__ for i in issues] == []
    (pipe,) = [p for p in paths if p.parent.name == "pipelines"]
    assert yaml.safe_load(pipe.read_text()) == yaml.safe_load(PIPELINE_YAML)
    spray = list(yaml.safe_load_all((out / "rules" / "auditlab_password_spray.yml").read_text()))
    assert spray[1]["correlation"] == {
        "type": "value_count", "rules": ["auditlab_password_spray_events"], "timespan": "5m",
        "condition": {"gte": 10, "field": "UserEmail"}, "group-by": ["IpAddress"],
    }  # fmt: skip
    assert spray[0]["logsource"] == {"product": "spectra_assure_portal", "service": "audit"}


def test_export_does_not_overwrite_unless_asked(exported):
    out, _ = exported
    with pytest.raises(InputError, match="exists"):
        export_sigma(out)
    assert len(export_sigma(out, overwrite=True)) == 7


@pytest.mark.parametrize(
    ("backend", "needle"),
    [
        (SplunkBackend, 'action="organization.sso.disabled"'),
        (ESQLBackend, 'action=="organization.sso.disabled"'),
    ],
)
def test_conversion_for_splunk_and_esql(exported, backend, needle):
    out, _ = exported
    queries = backend(pipeline()).convert(SigmaCollection.load_ruleset([str(out / "rules")]))
    assert len(queries) == 6 and all(isinstance(q, str) and q for q in queries)
    assert any(needle in q for q in queries)
    assert any("user_email" in q and "ip_address" in q for q in queries)  # fields mapped by the pipeline


def test_every_declared_detection_is_exported_or_says_why():
    exported_names = {r["name"].removeprefix("auditlab_") for r in sigma_rules()}
    for name in DETECTIONS:
        assert name in exported_names or name in NOT_EXPORTED, name
    assert sigma_rules([SUCCESS_AFTER_FAILURES]) == []
    with pytest.raises(QueryError, match="success_after_failures: a sequence detection has no Sigma form"):
        detection_rules(SUCCESS_AFTER_FAILURES)


def test_cli_sigma_export(tmp_path):
    from click.testing import CliRunner

    from auditlab.cli import main

    result = CliRunner().invoke(main, ["sigma", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == str(tmp_path / "pipelines" / "spectra_assure_portal.yml")
    again = CliRunner().invoke(main, ["sigma", "export", "--out", str(tmp_path)])
    assert again.exit_code == 2 and "exists (pass --overwrite to replace it)" in again.output
