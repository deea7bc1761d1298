"""Export ZIPs, the export registry, the export/exports CLI, and load(export(load(x))) round trips."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

import auditlab
from auditlab.cli import main
from auditlab.errors import InputError
from auditlab.io.export import ExportRegistry, export, safe_name
from auditlab.schema import COLUMNS, EVENTS_SCHEMA

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "portal_audit_export.zip"


def events(n: int = 3) -> pa.Table:
    rows = [
        {"event_id": f"e{i}", "timestamp": dt.datetime(2026, 10, 1 + i, tzinfo=UTC), "action": "user.login",
         "outcome": "success", "source": "s", "source_line": i}
        for i in range(n)
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


class FakeQuery:
    def to_json(self) -> str:
        return '{"conditions": [{"field": "action", "op": "is", "values": ["user.login"]}]}'


def test_zip_members_and_manifest(tmp_path: Path) -> None:
    path = export(events(), "Q3 / logins", out_dir=tmp_path, query=FakeQuery(), now=NOW)
    assert path == tmp_path / "Q3_logins.zip"
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["audit_log.ndjson", "audit_log.cef", "manifest.json"]
        manifest = json.loads(zf.read("manifest.json"))
        for member in ("audit_log.ndjson", "audit_log.cef"):
            data = zf.read(member)
            assert manifest["members"][member]["sha256"] == hashlib.sha256(data).hexdigest()
            assert manifest["members"][member]["bytes"] == len(data)
            assert data.count(b"\n") == 3
    assert manifest["name"] == "Q3 / logins"
    assert manifest["created_at"] == "2026-11-01T09:30:00.000Z"
    assert manifest["expires_at"] == "2026-11-08T09:30:00.000Z"
    assert manifest["filters"] == {"conditions": [{"field": "action", "op": "is", "values": ["user.login"]}]}
    assert manifest["time_range"] == {"start": "2026-10-01T00:00:00.000Z", "end": "2026-10-03T00:00:00.000Z"}
    assert manifest["counts"] == {"events": 3}


def test_one_format_and_errors(tmp_path: Path) -> None:
    path = export(events(), "n", formats=("cef",), out_dir=tmp_path, query={"where": "x"}, now=NOW)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["audit_log.cef", "manifest.json"]
        assert json.loads(zf.read("manifest.json"))["filters"] == {"where": "x"}
    with pytest.raises(InputError, match="exists"):
        export(events(), "n", out_dir=tmp_path, now=NOW)
    with pytest.raises(InputError, match="unknown export format"):
        export(events(), "m", formats=("csv",), out_dir=tmp_path)
    with pytest.raises(InputError, match="1 to 255"):
        export(events(), " ", out_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.zip"]  # no temp files left behind


def test_registry_list_delete_purge(tmp_path: Path) -> None:
    export(events(2), "old", out_dir=tmp_path, now=NOW - dt.timedelta(days=8))
    export(events(1), "fresh", formats=("ndjson",), out_dir=tmp_path, now=NOW)
    export(events(3), "newer", out_dir=tmp_path, now=NOW + dt.timedelta(hours=1))
    (tmp_path / "foreign.zip").write_bytes(b"not a zip")
    reg = ExportRegistry(tmp_path)
    listed = reg.list(now=NOW + dt.timedelta(hours=2))  # purges "old" first
    assert [(e.name, e.ndjson, e.cef, e.events) for e in listed] == [
        ("newer", "audit_log.ndjson", "audit_log.cef", 3),
        ("fresh", "audit_log.ndjson", None, 1),
    ]
    assert not (tmp_path / "old.zip").exists()
    assert reg.delete("fresh").path == tmp_path / "fresh.zip"
    with pytest.raises(InputError, match="no export named 'fresh'"):
        reg.delete("fresh")
    assert reg.purge(now=NOW + dt.timedelta(days=7, hours=1)) == ["newer"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.zip"]


def test_safe_names() -> None:
    assert safe_name("a b/c\\d:e") == "a_b_c_d_e"
    assert safe_name("../../etc/passwd") == "etc_passwd"


def test_cli_export_and_exports(tmp_path: Path) -> None:
    src = tmp_path / "in.ndjson"
    src.write_text(
        '{"id":"a","created_at":"2026-10-01T00:00:00Z","action":"user.login","outcome":"successful"}\n'
        '{"id":"b","created_at":"2026-10-02T00:00:00Z","action":"user.logout","outcome":"successful"}\n'
    )
    out = tmp_path / "exports"
    runner = CliRunner()
    res = runner.invoke(
        main, ["export", str(src), "--name", "weekly", "--formats", "ndjson", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{out / 'weekly.zip'}: 2 events, expires ")
    res = runner.invoke(main, ["exports", "list", "--out", str(out), "--json"])
    assert [(e["name"], e["ndjson"], e["cef"], e["events"]) for e in json.loads(res.output)] == [
        ("weekly", "audit_log.ndjson", None, 2)
    ]
    res = runner.invoke(main, ["export", str(src), "--name", "weekly", "--out", str(out)])
    assert res.exit_code == 2 and "exists" in res.output
    res = runner.invoke(main, ["exports", "delete", "weekly", "--out", str(out)])
    assert res.exit_code == 0 and "deleted" in res.output
    res = runner.invoke(main, ["exports", "purge", "--out", str(out)])
    assert res.output == "purged 0 expired export(s)\n"
    res = runner.invoke(main, ["exports", "list", "--out", str(out)])
    assert res.output == "no exports\n"


def _canonical(ws: auditlab.Workspace) -> list[dict[str, object]]:
    cols = [c for c in COLUMNS if c not in ("raw", "source", "source_line")]
    return ws.to_arrow().select(cols).sort_by("event_id").to_pylist()


def test_ndjson_export_round_trip_on_the_samples(tmp_path: Path) -> None:
    ws = auditlab.load(SAMPLE)
    path = export(ws, "all", formats=("ndjson",), out_dir=tmp_path, now=NOW)
    again = auditlab.load(path)
    assert again.last_report is not None and again.last_report.quarantined == 0
    assert _canonical(again) == _canonical(ws)


def test_cef_export_round_trip_on_the_samples(tmp_path: Path) -> None:
    ws = auditlab.load(SAMPLE)
    path = export(ws, "all", formats=("cef",), out_dir=tmp_path, now=NOW)
    again = auditlab.load(path)
    assert again.last_report is not None and again.last_report.quarantined == 0
    assert _canonical(again) == _canonical(ws)


def test_cli_export_takes_the_filter_options(tmp_path: Path) -> None:
    out = tmp_path / "exports"
    args = ["export", str(SAMPLE), "--where", "action is user.login", "--where", "outcome is failure",
            "--name", "failed", "--formats", "ndjson", "--out", str(out), "--json"]  # fmt: skip
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    again = auditlab.load(out / "failed.zip")
    expected = auditlab.load(SAMPLE).query("action is user.login; outcome is failure; all time").count()
    assert again.count() == expected > 0
    assert set(again.to_polars()["action"]) == {"user.login"}
    manifest = json.loads(zipfile.ZipFile(out / "failed.zip").read("manifest.json"))
    assert "user.login" in json.dumps(manifest)
    bad = CliRunner().invoke(main, ["export", str(SAMPLE), "--where", "action is user.logn", "--name", "x",
                                    "--out", str(out)])  # fmt: skip
    assert bad.exit_code == 2 and "user.login" in bad.output
