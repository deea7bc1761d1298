"""`auditlab load` and `auditlab info`: reports, JSON, stores, exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from auditlab.cli import main

SAMPLE = "data/samples/portal_audit_export.zip"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_load_json_report_accounts_for_every_line():
    res = run("load", SAMPLE, "--json")
    assert res.exit_code == 0
    report = json.loads(res.output)
    assert set(report) >= {"lines", "loaded", "duplicates", "quarantined", "sources"}
    assert report["lines"] == report["loaded"] + report["duplicates"] + report["quarantined"]
    # the sample is an NDJSON-and-CEF export: the CEF member holds the same events again
    assert (report["lines"], report["loaded"], report["duplicates"], report["quarantined"]) == (
        34100,
        17050,
        17050,
        0,
    )
    ndjson, cef = report["sources"]
    assert ndjson["source"].endswith("portal_audit_export.zip!audit_log.ndjson") and ndjson["loaded"] == 17050
    assert cef["source"].endswith("portal_audit_export.zip!audit_log.cef") and cef["duplicates"] == 17050


def test_load_into_store_then_info_from_store(tmp_path):
    store = str(tmp_path / "store")
    first = json.loads(run("load", SAMPLE, "--store", store, "--json").output)
    again = json.loads(run("load", SAMPLE, "--store", store, "--json").output)
    assert (first["loaded"], again["loaded"], again["duplicates"]) == (17050, 0, 34100)
    info = json.loads(run("info", "--store", store, "--json").output)
    assert info["events"] == 17050 and info["actions"] == 85
    assert sum(info["by_outcome"].values()) == 17050
    assert info["first"].startswith("2026-10-02") and info["last"].startswith("2026-10-31")


def test_info_text_from_paths():
    res = run("info", SAMPLE, "--top", "3")
    assert res.exit_code == 0
    assert "loaded       17050 of 34100 lines" in res.output
    assert "top 3 actions" in res.output and "per day" in res.output


def test_bad_input_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"id": 1, "created_at": "2026-10-01T00:00:00Z", "action": "a.b"}\nnot json\n')
    res = CliRunner().invoke(main, ["load", str(bad), "--strict"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [f"Error: {bad}:2: not valid JSON"]


def test_store_and_paths_together_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(main, ["info", SAMPLE, "--store", str(tmp_path)])
    assert res.exit_code == 2 and "not both" in res.output


def test_quarantined_lines_are_listed_with_file_and_line(tmp_path):
    bad = tmp_path / "mixed.ndjson"
    bad.write_text('{"id": 1, "created_at": "2026-10-01T00:00:00Z", "action": "a.b"}\n[1]\n')
    res = run("load", str(bad))
    assert f"{bad}:2: not a JSON object (array)" in res.output
    assert "2 lines: 1 loaded, 0 duplicates, 1 quarantined" in res.output
