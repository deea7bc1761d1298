"""`auditlab sync` against the fake Portal: JSON summary, text summary, errors as one line."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import END, START, TOKEN

from auditlab.cli import main


def run(portal, *args, token=TOKEN, env=None):
    environ = {"AUDITLAB_TOKEN": token, **(env or {})}
    base = ["sync", "--host", portal.url, "--server", "demo"]
    return CliRunner(env=environ).invoke(main, [*base, *args])


def test_sync_json_is_one_object(portal, tmp_path):
    portal.faults.slow_status = 0
    res = run(portal, "--store", str(tmp_path), "--org", "acme", "--start", START, "--end", END, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["windows"], out["jobs"], out["loaded"], out["duplicates"], out["quarantined"]) == (
        1,
        1,
        17050,
        0,
        0,
    )
    assert out["mark"] == END and out["exports"][0]["loaded"] == 17050
    assert TOKEN not in res.output


def test_sync_text_summary_with_where_and_env_org(portal, tmp_path):
    portal.faults.slow_status = 0
    res = run(
        portal,
        "--store",
        str(tmp_path),
        "--start",
        START,
        "--end",
        END,
        "--where",
        "outcome is failure",
        "--where",
        "ip_address is 203.0.113.45",
        env={"AUDITLAB_ORG": "acme"},
    )
    assert res.exit_code == 0, res.output
    assert "1 window(s), 1 export job(s): 167 lines: 167 loaded" in res.output
    assert "applied locally: ip_address is 203.0.113.45: 14 matching events" in res.output
    assert "exports created:" in res.output


def test_sync_errors_exit_2_with_one_line(portal, tmp_path):
    res = run(portal, "--store", str(tmp_path), "--org", "acme", "--since", "7d", token="bad-tok-123")
    assert res.exit_code == 2 and "HTTP 401" in res.output and "bad-tok-123" not in res.output
    res = run(portal, "--store", str(tmp_path), "--org", "nobody", "--since", "7d")
    assert res.exit_code == 2 and "organization 'nobody' not found" in res.output
    res = run(portal, "--store", str(tmp_path), "--since", "7d")
    assert res.exit_code == 2 and "no organization given" in res.output


def test_sync_reads_the_sdk_configuration_file(portal, tmp_path):
    portal.faults.slow_status = 0
    conf = tmp_path / "myConfig.json"
    conf.write_text(json.dumps({"SpectraAssureApi": {"organization": "acme", "token": TOKEN, "timeout": 30}}))
    res = run(
        portal,
        "--store",
        str(tmp_path / "s"),
        "--config",
        str(conf),
        "--start",
        START,
        "--end",
        "2026-10-03T00:00:00Z",
        "--json",
        token="",
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["loaded"] == portal.count(START, "2026-10-03T00:00:00Z")
