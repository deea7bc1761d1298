"""``auditlab investigate``: findings as text and JSON, the HTML report, scope options, exit 2 on bad filters."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditlab.cli import main
from auditlab.investigations import INVESTIGATIONS

SAMPLE = "data/samples/portal_audit_export.zip"
INCIDENTS = json.loads(Path("data/samples/incidents.json").read_text(encoding="utf-8"))["incidents"]
KEYS = [
    "investigation",
    "severity",
    "technique",
    "title",
    "entities",
    "first_seen",
    "last_seen",
    "count",
    "event_ids",
]
FINDING_LINE = re.compile(
    r"  (info|low|medium|high|critical) +(T\d{4}(\.\d{3})?|-) +"
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \.\. \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+  \S.*"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["investigate", *args])


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def as_json() -> list[dict[str, object]]:
    result = run(SAMPLE, "--json")
    assert result.exit_code == 0, result.output
    findings: list[dict[str, object]] = json.loads(result.stdout)
    return findings


@pytest.fixture(scope="module")
def as_text(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("report") / "sub" / "report.html"
    result = run(SAMPLE, "--out", str(out))
    assert result.exit_code == 0, result.output
    return result.stdout, out


def test_json_is_a_list_of_findings(as_json: list[dict[str, object]]) -> None:
    assert as_json, "the sample has planted incidents"
    for finding in as_json:
        assert list(finding) == KEYS
        assert finding["investigation"] in INVESTIGATIONS
        assert isinstance(finding["entities"], dict) and isinstance(finding["event_ids"], list)
        assert str(finding["first_seen"]).endswith("Z") and finding["first_seen"] <= finding["last_seen"]
    ranks = ["info", "low", "medium", "high", "critical"]
    severities = [ranks.index(str(f["severity"])) for f in as_json]
    assert severities == sorted(severities, reverse=True)


@pytest.mark.parametrize("incident", INCIDENTS, ids=[i["id"] for i in INCIDENTS])
def test_json_reports_every_planted_incident(
    as_json: list[dict[str, object]], incident: dict[str, object]
) -> None:
    """Each planted incident is a finding naming one of its users, starting within its span."""
    start, end = when(str(incident["start"])), when(str(incident["end"]))
    users = set(incident["users"])  # type: ignore[arg-type]
    matches = [
        f for f in as_json
        if users & set(f["entities"].get("user", []))  # type: ignore[union-attr]
        and start <= when(str(f["first_seen"])) <= end
    ]  # fmt: skip
    assert matches, incident["expect"]


def test_text_summary_groups_by_investigation(
    as_text: tuple[str, Path], as_json: list[dict[str, object]]
) -> None:
    stdout, out = as_text
    lines = stdout.splitlines()
    headers = [line.split(":")[0] for line in lines if not line.startswith(" ")][: len(INVESTIGATIONS)]
    assert headers == list(INVESTIGATIONS)
    finding_lines = [line for line in lines if line.startswith("  ")]
    assert all(FINDING_LINE.fullmatch(line) for line in finding_lines), finding_lines
    assert len(finding_lines) == len(as_json)
    assert lines[-2].startswith(f"{len(as_json)} findings (")
    assert lines[-1] == f"report written to {out}"
    assert (
        "  high     T1110.001  2026-10-14 03:41:24 .. 2026-10-14 03:49:33     14  Brute force against"
        in stdout
    )


def test_report_file(as_text: tuple[str, Path], as_json: list[dict[str, object]]) -> None:
    page = as_text[1].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert re.findall(r'<section id="(\w+)">', page) == list(INVESTIGATIONS)
    assert "<dt>scope</dt><dd>all time</dd>" in page
    assert "<dt>events in scope</dt><dd>17050</dd>" in page
    # an open range reads as the first and last event, in the findings' timestamp format
    assert (
        "<dt>time range</dt><dd>2026-10-02T00:26:28.766Z (first event) .. 2026-10-31T23:29:22.529Z (last event)</dd>"
        in page
    )
    assert page.count("<svg") >= len(INVESTIGATIONS)
    assert re.search(r"<script|(src|href)=\"https?:", page, re.IGNORECASE) is None


def test_json_with_out_keeps_stdout_json(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = run(SAMPLE, "--json", "--only", "sso_changes", "--since", "7d", "--out", str(out))
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert {f["investigation"] for f in findings} <= {"sso_changes"}
    assert result.stderr == f"report written to {out}\n"
    assert re.findall(r'<section id="(\w+)">', out.read_text(encoding="utf-8")) == ["sso_changes"]


def test_scope_narrows_the_investigation() -> None:
    result = run(
        SAMPLE, "--only", "failed_logins", "--start", "2026-10-14T00:00:00Z", "--end", "2026-10-15T00:00:00Z"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "failed_logins: Failed logins - 1 finding",
        "  high     T1110.001  2026-10-14 03:41:24 .. 2026-10-14 03:49:33     14  Brute force against "
        "ext.zoe.bauer@acme.example: 14 failed logins in 8 min from 203.0.113.45",
        "1 finding (1 high)",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--where", "action is user.logn"], "Error: unknown action 'user.logn'; did you mean user.login?"),
        (["--where", "colour is red"], "Error: unknown field 'colour'"),
        (["--start", "yesterday"], "Error: not an ISO 8601 date-time: 'yesterday'"),
        (["--since", "7d", "--start", "2026-01-01"], "Error: give --since or --start/--end, not both"),
        (["--only", "lateral_movement"], "Error: Invalid value for '--only'"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    result = run(SAMPLE, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_needs_paths_or_store() -> None:
    result = run()
    assert result.exit_code == 2
    assert "give PATH... (export files, ZIPs, folders) or --store DIR" in result.output


EVIL = '<script>alert("x")</script>\x1b[2J@evil.example'


def test_hostile_values_are_escaped(tmp_path: Path) -> None:
    """Log values reach the terminal without control characters and the report HTML-escaped.

    The brute force is three days before the newest event: the default scope is all events.
    """
    lines = [
        {"id": f"f{i}", "timestamp": f"2026-10-01T10:0{i}:00Z", "action": "user.login", "outcome": "unsuccessful",
         "user_email": EVIL, "ip_address": "203.0.113.9", "auth_context": "PORTAL", "error_message": "<b>no</b>"}
        for i in range(6)
    ] + [
        {"id": "ok", "timestamp": "2026-10-04T10:00:00Z", "action": "user.login", "outcome": "successful",
         "user_email": "a@x.example", "ip_address": "10.0.0.1", "auth_context": "PORTAL"}
    ]  # fmt: skip
    export = tmp_path / "evil.ndjson"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "report.html"
    result = run(str(export), "--only", "failed_logins", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    # a user is shown as the identity rule compares it: ASCII letters folded to lower case
    assert '<script>alert("x")</script>\\x1b[2j@evil.example' in result.stdout
    assert "T1110.001" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "\x1b" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\\x1b[2j@evil.example" in page
    assert "&lt;b&gt;no&lt;/b&gt;" in page


def test_reads_a_persistent_store(tmp_path: Path) -> None:
    lines = [
        {"id": f"f{i}", "timestamp": f"2026-10-01T10:0{i}:00Z", "action": "user.login", "outcome": "unsuccessful",
         "user_email": "bob@x.example", "ip_address": "203.0.113.9", "auth_context": "PORTAL"}
        for i in range(5)
    ]  # fmt: skip
    export = tmp_path / "a.ndjson"
    export.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    store = str(tmp_path / "store")
    assert CliRunner().invoke(main, ["load", str(export), "--store", store]).exit_code == 0
    result = run("--store", store, "--only", "failed_logins", "--json")
    assert result.exit_code == 0, result.output
    (finding,) = json.loads(result.stdout)
    assert (finding["technique"], finding["entities"]["user"], finding["count"]) == (
        "T1110.001",
        ["bob@x.example"],
        5,
    )
    assert sorted(finding["event_ids"]) == ["f0", "f1", "f2", "f3", "f4"]
    both = run(str(export), "--store", store)
    assert both.exit_code == 2 and "give --store DIR or PATH..., not both" in both.output


def test_report_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("keep me", encoding="utf-8")
    result = run(SAMPLE, "--only", "sso_changes", "--out", str(out))
    assert result.exit_code == 2
    assert "exists (pass --overwrite to replace it)" in result.output
    assert out.read_text(encoding="utf-8") == "keep me"
    assert run(SAMPLE, "--only", "sso_changes", "--out", str(out), "--overwrite").exit_code == 0
    assert "<html" in out.read_text(encoding="utf-8")


def test_text_without_a_report_streams_the_same_summary(as_text: tuple[str, Path]) -> None:
    # without --out/--json each investigation's result is printed and dropped before the next runs
    streamed = run(SAMPLE)
    assert streamed.exit_code == 0, streamed.output
    held = [line for line in as_text[0].splitlines() if not line.startswith("report written to ")]
    assert streamed.stdout.splitlines() == held
    assert re.fullmatch(r"\d+ findings \((\d+ (critical|high|medium|low|info)(, )?)+\)", held[-1])
