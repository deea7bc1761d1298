"""``auditlab query``: filters, formats, counts, exit 2 on a bad filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditlab.cli import main

LINES = [
    {
        "id": "e1",
        "timestamp": "2026-10-01T10:00:00Z",
        "action": "user.login",
        "outcome": "successful",
        "user_email": "alice@example.com",
        "auth_context": "PORTAL",
        "ip_address": "10.0.0.1",
    },
    {
        "id": "e2",
        "timestamp": "2026-10-01T11:00:00Z",
        "action": "user.login",
        "outcome": "unsuccessful",
        "user_email": "Alice@Example.COM",
        "auth_context": "API",
        "ip_address": "10.0.0.2",
    },
    {
        "id": "e3",
        "timestamp": "2026-09-01T11:00:00Z",
        "action": "user.logout",
        "outcome": "successful",
        "user_email": "bob@example.com",
        "ip_address": "10.0.0.3",
    },
]


@pytest.fixture()
def export(tmp_path: Path) -> str:
    path = tmp_path / "a.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return str(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["query", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "args, count",
    [
        ([], "2"),  # default: the 24 h ending at the newest event, not the wall clock
        (["--since", "all"], "3"),
        (["--since", "30d"], "2"),
        (["--since", "all", "--where", "User Email is ALICE@example.com"], "2"),
        (["--since", "all", "--where", "outcome is_not unsuccessful"], "2"),
        (["--since", "all", "--where", "action is user.login", "--where", "auth_context is api"], "1"),
        (["--start", "2026-09-01T11:00:00Z", "--end", "2026-10-01T11:00:00Z"], "2"),
        (["--end", "2026-10-01T00:00:00Z"], "1"),
    ],
)
def test_count(export: str, args: list[str], count: str) -> None:
    assert run(export, "--count", *args) == (0, count + "\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--where", "action is user.logn"], "Error: unknown action 'user.logn'; did you mean user.login?"),
        (["--where", "colour is red"], "Error: unknown field 'colour'"),
        (["--where", "resource_name is x"], "Error: Target Name needs a Target Type condition"),
        (["--where", "action equals x"], "Error: cannot read filter 'action equals x'"),
        (["--start", "yesterday"], "Error: not an ISO 8601 date-time: 'yesterday'"),
        (["--since", "7d", "--start", "2026-01-01"], "Error: give --since or --start/--end, not both"),
    ],
)
def test_a_bad_filter_exits_2_with_one_reason(export: str, args: list[str], message: str) -> None:
    code, output = run(export, "--count", *args)
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_unknown_actions_can_be_allowed(export: str) -> None:
    assert run(export, "--count", "--where", "action is user.logn", "--allow-unknown-actions") == (0, "0\n")


def test_json_is_newest_first_and_limited(export: str) -> None:
    code, output = run(export, "--since", "all", "--format", "json", "--limit", "2")
    assert code == 0
    rows = json.loads(output)
    assert [r["event_id"] for r in rows] == ["e2", "e1"]
    assert rows[0]["outcome"] == "failure"


def test_table_lists_events_and_the_query(export: str) -> None:
    code, output = run(export, "--where", "outcome is failure")
    assert code == 0
    assert "Alice@Example.COM" in output and "bob@example.com" not in output
    assert output.rstrip().endswith("1 of 1 events (outcome is failure; since 24h)")


def test_help_lists_the_filter_options() -> None:
    code, output = run("--help")
    assert code == 0
    for flag in ("--where", "--since", "--start", "--end", "--format", "--count", "--limit", "--store"):
        assert flag in output


def test_ndjson_and_cef_go_to_the_writers_on_binary_stdout(
    export: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from auditlab.cli import query as query_module

    seen: list[tuple[str, str, int]] = []
    fake = types.ModuleType("fake_writers")

    def write(events, stream) -> None:  # a query result (streamed; with --limit an Arrow table), stdout
        table = events if type(events).__name__ == "Table" else events.to_arrow()
        seen.append((type(events).__name__, table.column("event_id")[0].as_py(), table.num_rows))
        stream.write(b"written\n")

    fake.write = write  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_writers", fake)
    monkeypatch.setitem(query_module.WRITERS, "ndjson", "fake_writers:write")
    monkeypatch.setitem(query_module.WRITERS, "cef", "fake_writers:write")
    assert run(export, "--since", "all", "--format", "ndjson") == (0, "written\n")
    assert run(export, "--since", "all", "--format", "cef", "--limit", "1") == (0, "written\n")
    assert seen == [("QueryResult", "e2", 3), ("Table", "e2", 1)]


def test_ndjson_and_cef_through_the_real_writers(export: str) -> None:
    code, output = run(export, "--since", "all", "--where", "action is user.login", "--format", "ndjson")
    assert code == 0
    assert [json.loads(line)["id"] for line in output.splitlines()] == ["e2", "e1"]
    code, output = run(export, "--since", "all", "--format", "cef", "--limit", "1")
    assert code == 0
    assert output.startswith("CEF:0|") and "externalId=e2" in output and output.count("\n") == 1
