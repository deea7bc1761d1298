"""The sample generator: determinism, coverage, planted incidents, a clean control sample."""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlab.catalog import ACTIONS
from auditlab.errors import InputError
from auditlab.samples import ATTACKER_IPS, DEFAULT_END, SPECS, build_samples, generate_samples, sample_records
from auditlab.samples._background import INCIDENT_ONLY

LOGINS = {"user.login", "user.sso.saml.login", "user.sso.oidc.login"}
REPO = Path(__file__).resolve().parents[1]


def ts(r: dict) -> datetime:
    return datetime.fromisoformat(r["created_at"])


def email(r: dict) -> str:
    return r["user"]["email"]


@pytest.fixture(scope="module")
def sample():
    return build_samples(seed=7, days=30)


@pytest.fixture(scope="module")
def control():
    return build_samples(seed=7, days=30, incidents=False)


@pytest.fixture(scope="module")
def by_id(sample):
    return {r["id"]: r for r in sample.records}


# ---- shape and determinism --------------------------------------------------------------------
KEYS = [
    "id",
    "created_at",
    "action",
    "outcome",
    "error_message",
    "auth_context",
    "user",
    "ip_address",
    "target",
    "group",
    "project",
    "package",
    "version",
    "request_id",
    "details",
]


def test_record_shape_and_order(sample):
    recs = sample.records
    assert all(list(r) == KEYS for r in recs)
    assert [r["created_at"] for r in recs] == sorted(r["created_at"] for r in recs)
    assert recs[0]["created_at"] >= "2026-10-02T00:00:00.000Z"
    assert recs[-1]["created_at"] < "2026-11-01T00:00:00.000Z"
    assert all(r["target"]["type"] == r["action"].split(".")[0] for r in recs)
    assert {r["outcome"] for r in recs} == {"successful", "unsuccessful"}
    assert all((r["outcome"] == "unsuccessful") == (r["error_message"] is not None) for r in recs)
    assert {r["auth_context"] for r in recs} == {"PORTAL", "API"}
    assert len({r["id"] for r in recs}) == len(recs)
    assert all(email(r).endswith("@acme.example") for r in recs)


def test_size_of_the_month(sample):
    assert 15_000 <= len(sample.records) <= 40_000
    assert 40 <= len({email(r) for r in sample.records}) <= 60


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a = generate_samples(tmp_path / "a", seed=3, days=7)
    b = generate_samples(tmp_path / "b", seed=3, days=7)
    c = generate_samples(tmp_path / "c", seed=4, days=7)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    for name in ("incidents.json", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_zip_members_and_size(tmp_path, sample):
    path = generate_samples(tmp_path, seed=7, days=30)
    assert path.name == "portal_audit_export.zip"
    assert path.stat().st_size < 5 * 1024 * 1024
    with zipfile.ZipFile(path) as zf:
        info, cef = zf.infolist()
        assert (info.filename, cef.filename) == ("audit_log.ndjson", "audit_log.cef")
        assert info.date_time == cef.date_time == (2026, 11, 1, 0, 0, 0)
        lines = zf.read(info).decode().splitlines()
        cef_lines = zf.read(cef).decode().splitlines()
    assert [json.loads(x) for x in lines] == sample.records
    # the CEF member holds the same events, in the same order
    assert len(cef_lines) == len(lines)
    assert all(line.startswith("CEF:0|ReversingLabs|Spectra Assure Portal|") for line in cef_lines)
    assert [line.split("externalId=", 1)[1].split(" ", 1)[0] for line in cef_lines[:50]] == [
        r["id"] for r in sample.records[:50]
    ]


def test_both_members_load_as_one_set_of_events(tmp_path):
    import auditlab

    ws = auditlab.load(generate_samples(tmp_path, seed=3, days=7))
    r = ws.last_report
    (ndjson, cef) = r.sources
    assert (ndjson.format, cef.format) == ("ndjson", "cef")
    assert ndjson.loaded == cef.duplicates == cef.lines > 0 and r.quarantined == 0


def test_control_writes_only_the_zip(tmp_path):
    generate_samples(tmp_path, days=7, incidents=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portal_audit_export.zip"]


def test_bad_arguments():
    with pytest.raises(InputError, match="days must be at least 7, got 3"):
        build_samples(days=3)
    with pytest.raises(InputError, match="end must be midnight UTC"):
        build_samples(end="2026-11-01T12:00:00Z")
    with pytest.raises(InputError, match=r"unknown sample format\(s\) \['xml'\]"):
        generate_samples("unused-dir", days=7, formats=("xml",))


# ---- coverage ---------------------------------------------------------------------------------
def test_every_catalog_action_present(sample):
    assert {r["action"] for r in sample.records} == set(ACTIONS)


def test_control_has_every_action_but_the_incident_only_ones(control):
    assert {r["action"] for r in control.records} == set(ACTIONS) - INCIDENT_ONLY


def test_background_identical_with_and_without_incidents_before_the_first(sample, control):
    first = min(i.start for i in sample.incidents)
    sso_day = "2026-10-08"
    a = [r for r in sample.records if r["created_at"] < sso_day]
    b = [r for r in control.records if r["created_at"] < sso_day]
    assert sso_day < first
    assert [(r["action"], email(r), r["created_at"]) for r in a] == [
        (r["action"], email(r), r["created_at"]) for r in b
    ]


# ---- the planted incidents ----------------------------------------------------------------------
def test_incidents_listed_with_events_that_match(sample, by_id):
    assert [i.id for i in sample.incidents] == [s.id for s in SPECS]
    for inc in sample.incidents:
        assert inc.event_ids, inc.id
        for eid in inc.event_ids:
            r = by_id[eid]
            assert email(r) in inc.users and r["ip_address"] in inc.ips, inc.id
            assert inc.start <= r["created_at"] <= inc.end, inc.id
        assert {email(by_id[e]) for e in inc.event_ids} == set(inc.users)
        assert all(e in by_id for e in inc.related_event_ids)


def planted(sample, by_id, inc_id):
    inc = next(i for i in sample.incidents if i.id == inc_id)
    return inc, [by_id[e] for e in inc.event_ids]


def test_brute_force(sample, by_id):
    inc, evs = planted(sample, by_id, "INC-01-brute-force")
    assert len(evs) == 14 and {r["action"] for r in evs} == {"user.login"}
    assert all(r["outcome"] == "unsuccessful" for r in evs)
    assert ts(evs[-1]) - ts(evs[0]) <= timedelta(minutes=10)
    assert [r["error_message"] for r in evs[-2:]] == ["Account locked"] * 2
    assert inc.ips == (ATTACKER_IPS["brute"],) and len(inc.users) == 1
    assert not [r for r in sample.records if r["ip_address"] == inc.ips[0] and r["outcome"] == "successful"]


def test_password_spray(sample, by_id):
    inc, evs = planted(sample, by_id, "INC-02-password-spray")
    assert len({email(r) for r in evs}) == len(evs) >= 15
    assert ts(evs[-1]) - ts(evs[0]) <= timedelta(minutes=5)
    assert inc.ips == (ATTACKER_IPS["spray"],)


def test_success_after_failures_from_a_new_ip(sample, by_id):
    inc, evs = planted(sample, by_id, "INC-03-success-after-failures")
    assert [r["outcome"] for r in evs] == ["unsuccessful"] * 7 + ["successful"]
    (user,), (ip,) = inc.users, inc.ips
    before = [r for r in sample.records if email(r) == user and r["created_at"] < inc.start]
    assert before and ip not in {r["ip_address"] for r in before}
    fails = [ts(r) for r in evs[:-1]]
    assert max(sum(1 for y in fails if x <= y < x + timedelta(minutes=15)) for x in fails) <= 3


def test_mass_revocation_then_api_use(sample, by_id):
    _, evs = planted(sample, by_id, "INC-04-mass-pat-revocation")
    revoke, *api = evs
    assert revoke["action"] == "organization.pat.all_revoked" and revoke["details"]["revoked_count"] > 10
    assert {r["auth_context"] for r in api} == {"API"} and api[0]["action"] == "version.uploaded"
    assert timedelta(0) < ts(api[0]) - ts(revoke) < timedelta(hours=4)
    user = email(api[0])
    between = [
        r
        for r in sample.records
        if revoke["created_at"] < r["created_at"] < api[0]["created_at"]
        and r["action"] == "user.pat.created"
        and r["target"]["name"] == user
    ]
    assert between == []


def test_sso_disabled_and_oidc_never_applied(sample, by_id):
    _, (off,) = planted(sample, by_id, "INC-05-sso-disabled")
    assert off["action"] == "organization.sso.disabled"
    _, (created,) = planted(sample, by_id, "INC-06-oidc-setup-not-applied")
    later = [
        r
        for r in sample.records
        if r["action"] == "organization.sso.oidc.setup.applied" and r["created_at"] > created["created_at"]
    ]
    assert later == []


def test_session_lifetime_on_sunday_night(sample, by_id):
    _, (ev,) = planted(sample, by_id, "INC-07-off-hours-session-lifetime")
    t = ts(ev)
    assert (t.weekday(), t.hour, t.minute) == (6, 2, 13)
    assert ev["details"] == {"changes": [{"field": "session_lifetime", "old": 720, "new": 43200}]}


def test_quota_burst_exhausts_the_group(sample, by_id):
    inc, evs = planted(sample, by_id, "INC-08-quota-exhaustion")
    spends = [r for r in evs if r["action"] == "version.upload_quota.spent"]
    assert spends[-1]["details"]["quota_remaining"] == 0
    assert ts(spends[-1]) - ts(spends[0]) < timedelta(hours=1)
    refused = [r for r in evs if r["outcome"] == "unsuccessful"]
    assert [r["error_message"] for r in refused] == ["Quota exceeded"] * 3
    group = spends[0]["group"]["name"]
    hourly = defaultdict(int)
    for r in sample.records:
        if (
            r["action"] == "version.upload_quota.spent"
            and r["group"]["name"] == group
            and r["id"] not in inc.event_ids
        ):
            hourly[r["created_at"][:13]] += 1
    assert len(spends) == 40 and max(hourly.values()) <= 5
    remaining = [
        r["details"]["quota_remaining"]
        for r in sample.records
        if r["action"] == "version.upload_quota.spent" and r["group"]["name"] == group
    ]
    assert remaining.count(0) == 1


def test_reallocation_is_the_incident_only(sample, by_id):
    _, (ev,) = planted(sample, by_id, "INC-09-quota-reallocation")
    assert ev["details"]["amount"] == 150 and ev["details"]["to_group"] == "Mobile"
    assert [
        r["id"] for r in sample.records if r["action"] == "organization.licensing.quotas.reallocated"
    ] == [ev["id"]]


def test_readme_and_json_tell_the_same_story(tmp_path, sample):
    generate_samples(tmp_path, seed=7, days=30)
    doc = json.loads((tmp_path / "incidents.json").read_text())
    readme = (tmp_path / "README.md").read_text()
    assert doc["events"] == len(sample.records) and doc["start"] == "2026-10-02T00:00:00Z"
    assert doc["incidents"] == [i.to_dict() for i in sample.incidents]
    for inc in doc["incidents"]:
        assert set(inc) >= {"id", "kind", "technique", "users", "ips", "start", "end", "event_ids", "expect"}
        assert f"### {inc['id']}" in readme and inc["expect"] in readme
        assert all(f"`{x}`" in readme for x in inc["users"] + inc["ips"])


# ---- a control sample trips no detection ---------------------------------------------------------
def windows_max(times: list[datetime], width: timedelta) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_control_failures_are_sparse(control):
    fails = [r for r in control.records if r["outcome"] == "unsuccessful"]
    assert 0.005 < len(fails) / len(control.records) < 0.05
    per_user = defaultdict(list)
    for r in fails:
        per_user[email(r)].append(ts(r))
    assert max(windows_max(v, timedelta(minutes=15)) for v in per_user.values()) <= 2
    per_ip = defaultdict(list)
    for r in fails:
        per_ip[r["ip_address"]].append((ts(r), email(r)))
    for events in per_ip.values():
        for t, _ in events:
            assert len({u for x, u in events if t - timedelta(minutes=5) < x <= t}) <= 2


def test_control_no_success_after_three_failures(control):
    run = defaultdict(int)
    for r in control.records:
        if r["action"] in LOGINS:
            if r["outcome"] == "unsuccessful":
                run[email(r)] += 1
            else:
                assert run[email(r)] < 3, r
                run[email(r)] = 0


@pytest.mark.parametrize("which", ["control", "sample"])
def test_logins_only_from_usual_ips_learned_early(which, request):
    check_usual_ips(request.getfixturevalue(which).records, control=which == "control")


def check_usual_ips(recs: list[dict], *, control: bool) -> None:
    """Apart from attackers, every account logs in from addresses seen in its first 4 days."""
    first: dict[str, datetime] = {}
    seen: dict[tuple[str, str], datetime] = {}
    attackers = set(ATTACKER_IPS.values())
    for r in recs:
        if r["action"] in LOGINS and r["ip_address"] not in attackers:
            first.setdefault(email(r), ts(r))
            seen.setdefault((email(r), r["ip_address"]), ts(r))
    late = {k: t for k, t in seen.items() if t - first[k[0]] > timedelta(days=4)}
    assert late == {}
    if control:
        assert not attackers & {r["ip_address"] for r in recs}


def test_control_has_no_incident_signature(control):
    recs = control.records
    assert not [r for r in recs if r["action"] in INCIDENT_ONLY]
    for r in recs:
        if r["action"] == "organization.session_lifetime.updated":
            assert ts(r).weekday() < 5 and 7 <= ts(r).hour < 18
    spends = [r for r in recs if r["action"].endswith("upload_quota.spent")]
    assert min(r["details"]["quota_remaining"] for r in spends) > 0
    assert "Quota exceeded" not in {r["error_message"] for r in recs}
    revokes = [ts(r) for r in recs if r["action"] in ("user.pat.revoked", "user.pat.all_revoked")]
    assert revokes and windows_max(revokes, timedelta(minutes=30)) == 1
    saml = [r["action"].rsplit(".", 1)[1] for r in recs if r["action"].startswith("organization.sso.saml.")]
    assert saml == ["created", "pending", "applied"]


def test_control_api_use_only_after_a_new_token(control):
    """After any revocation of a user's token, a new token comes before their next API use."""
    revoked: dict[str, bool] = defaultdict(bool)
    for r in control.records:
        if r["action"] == "user.pat.created":
            revoked[r["target"]["name"]] = False
        elif r["action"] in ("user.pat.revoked", "user.pat.all_revoked"):
            revoked[r["details"]["owner_email"]] = True
        elif r["auth_context"] == "API" and revoked[email(r)]:
            pytest.fail(f"API use by {email(r)} after revocation without a new token: {r['id']}")
    assert any(r["action"] == "user.pat.all_revoked" for r in control.records)


def test_quota_details_are_consistent(sample):
    """Each spend lowers its group's remaining quota by one, except across a limit change."""
    last: dict[str, int] = {}
    changed = set()
    for r in sample.records:
        if r["action"] == "group.licensing.limit.updated":
            changed.add(r["group"]["name"])
        elif r["action"] == "organization.licensing.quotas.reallocated":
            changed |= {r["details"]["from_group"], r["details"]["to_group"]}
        elif r["action"].endswith("upload_quota.spent"):
            d, g = r["details"], r["group"]["name"]
            assert d["amount"] == 1 and 0 <= d["quota_remaining"] < d["quota_limit"]
            if g in last and g not in changed:
                assert d["quota_remaining"] == last[g] - 1, r
            changed.discard(g)
            last[g] = d["quota_remaining"]
    assert len(last) == 6


@pytest.mark.parametrize(("seed", "days"), [(1, 7), (11, 14)])
def test_other_seeds_and_periods_hold_the_same_guarantees(seed, days):
    s = build_samples(seed=seed, days=days)
    c = build_samples(seed=seed, days=days, incidents=False)
    ids = {r["id"]: r for r in s.records}
    test_every_catalog_action_present(s)
    test_control_has_every_action_but_the_incident_only_ones(c)
    test_incidents_listed_with_events_that_match(s, ids)
    for check in (
        test_brute_force,
        test_password_spray,
        test_success_after_failures_from_a_new_ip,
        test_mass_revocation_then_api_use,
        test_sso_disabled_and_oidc_never_applied,
        test_session_lifetime_on_sunday_night,
        test_quota_burst_exhausts_the_group,
        test_reallocation_is_the_incident_only,
    ):
        check(s, ids)
    for control_check in (
        test_control_failures_are_sparse,
        test_control_no_success_after_three_failures,
        test_control_has_no_incident_signature,
        test_control_api_use_only_after_a_new_token,
    ):
        control_check(c)
    test_quota_details_are_consistent(s)
    check_usual_ips(s.records, control=False)
    check_usual_ips(c.records, control=True)


# ---- the CLI and the committed files --------------------------------------------------------------
def test_cli_writes_and_prints_the_path(tmp_path):
    from auditlab.cli import main

    res = CliRunner().invoke(
        main, ["samples", "--out", str(tmp_path), "--seed", "7", "--days", "7", "--no-incidents"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(tmp_path / "portal_audit_export.zip")
    recs = [
        json.loads(x)
        for x in zipfile.ZipFile(tmp_path / "portal_audit_export.zip")
        .read("audit_log.ndjson")
        .decode()
        .splitlines()
    ]
    assert recs == sample_records(seed=7, days=7, incidents=False)


def test_cli_rejects_short_periods(tmp_path):
    from auditlab.cli import main

    res = CliRunner().invoke(main, ["samples", "--out", str(tmp_path), "--days", "2"])
    assert res.exit_code == 2 and "days must be at least 7, got 2" in res.output


def test_committed_samples_are_reproducible(tmp_path):
    committed = REPO / "data" / "samples"
    if not (committed / "portal_audit_export.zip").exists():
        pytest.skip("data/samples not generated yet")
    generate_samples(tmp_path, seed=7, days=30, end=DEFAULT_END)
    for name in ("incidents.json", "README.md"):
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
    # Member bytes and metadata, not the compressed stream: another zlib may deflate differently.
    new, old = (zipfile.ZipFile(d / "portal_audit_export.zip") for d in (tmp_path, committed))
    assert [(i.filename, i.date_time, i.external_attr) for i in new.infolist()] == [
        (i.filename, i.date_time, i.external_attr) for i in old.infolist()
    ]
    assert new.read("audit_log.ndjson") == old.read("audit_log.ndjson")
    assert (committed / "portal_audit_export.zip").stat().st_size < 5 * 1024 * 1024
