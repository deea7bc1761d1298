"""Loading: mapping dialects, hostile input and line accounting."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

import auditlab
from auditlab.errors import InputError


def write_lines(path: Path, lines: list[str | bytes], *, end: bytes = b"\n") -> Path:
    data = end.join(x if isinstance(x, bytes) else x.encode() for x in lines) + end
    path.write_bytes(data)
    return path


def rec(**kw) -> str:
    base = {"id": "e1", "created_at": "2026-10-05T12:00:00Z", "action": "user.login"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def one(tmp_path: Path, record: dict) -> dict:
    ws = auditlab.load(write_lines(tmp_path / "one.ndjson", [json.dumps(record)]))
    assert ws.last_report.loaded == 1, ws.last_report
    return ws.to_polars().to_dicts()[0]


DIALECTS = [
    # (record, expected canonical subset)
    (
        {"id": "a", "created_at": "2026-10-05T12:34:56.789Z", "action": "user.login", "outcome": "unsuccessful",
         "user": {"id": "u1", "email": "A@x.io"}, "target": {"type": "user", "id": "t1", "name": "alice"},
         "group": {"id": "g1", "name": "core"}, "project": {"name": "p"}, "package": {"name": "pk"},
         "version": {"name": "1.0"}, "auth_context": "PORTAL", "ip_address": "192.0.2.1", "request_id": "r1",
         "error_message": "Invalid credentials"},
        {"event_id": "a", "outcome": "failure", "user_email": "A@x.io", "user_id": "u1", "resource_type": "user",
         "resource_id": "t1", "resource_name": "alice", "group_id": "g1", "group_name": "core",
         "project_name": "p", "package_name": "pk", "version_name": "1.0", "auth_context": "portal",
         "ip_address": "192.0.2.1", "request_id": "r1", "error_message": "Invalid credentials"},
    ),
    (
        {"eventId": "b", "@timestamp": "2026-10-05T14:34:56.789+02:00", "eventType": "user.pat.revoked",
         "userEmail": "b@x.io", "targetType": "user", "status": "SUCCESS", "authContext": "Api",
         "sourceIp": "2001:db8::1"},
        {"event_id": "b", "action": "user.pat.revoked", "user_email": "b@x.io", "resource_type": "user",
         "outcome": "success", "auth_context": "api", "ip_address": "2001:db8::1"},
    ),
    (
        {"uuid": "c", "time": 1791203696789, "act": "user.logout", "actor": {"email": "c@x.io"}, "success": True},
        {"event_id": "c", "action": "user.logout", "user_email": "c@x.io", "outcome": "success"},
    ),
    (
        {"id": "d", "timestamp": "1791203696", "action": "group.created", "result": "FAILED", "error": "nope",
         "details": {"changes": [{"field": "name"}]}},
        {"event_id": "d", "outcome": "failure", "error_message": "nope", "details": '{"changes":[{"field":"name"}]}'},
    ),
    (
        {"id": "e", "created_at": "2026-10-05T12:00:00Z", "action": "x.y", "outcome": "Maybe", "auth_context": "cli"},
        {"outcome": "Maybe", "auth_context": "cli"},  # unknown spellings are kept as given
    ),
]  # fmt: skip


@pytest.mark.parametrize("record, expected", DIALECTS)
def test_dialects_map_without_a_profile(tmp_path, record, expected):
    row = one(tmp_path, record)
    for key, value in expected.items():
        assert row[key] == value, key
    assert json.loads(row["raw"]) == record


def test_offset_timestamps_are_utc(tmp_path):
    row = one(tmp_path, {"id": "x", "created_at": "2026-10-05T14:34:56.5+02:00", "action": "a.b"})
    assert row["timestamp"] == datetime(2026, 10, 5, 12, 34, 56, 500000, tzinfo=UTC)


def test_profile_overrides_mapping(tmp_path):
    profile = tmp_path / "profile.toml"
    profile.write_text('[aliases]\nuser_email = ["operator.mail"]\naction = ["what"]\n')
    path = write_lines(
        tmp_path / "p.ndjson",
        [json.dumps({"id": "1", "ts": 0, "what": "user.login", "operator": {"mail": "op@x"}})],
    )
    row = auditlab.load(path, mapping=str(profile)).to_polars().to_dicts()[0]
    assert (row["user_email"], row["action"]) == ("op@x", "user.login")


HOSTILE: list[str | bytes] = [
    "\ufeff" + rec(id="h1"),                       # 1 BOM on the first line
    rec(id="h2") + "\r",                           # 2 CRLF
    "",                                            # 3 blank: not counted
    "\r",                                          # 4 blank: not counted
    b'{"id": "h5", "created_at": "2026-10-05T12:00:00Z", "action": "bad \xff utf8"}',  # 5 invalid UTF-8
    "not json at all",                             # 6
    "[1, 2, 3]",                                   # 7 not an object
    '"just a string"',                             # 8 not an object
    rec(id="h9", created_at=None),                 # 9 no timestamp
    rec(id="h10", action=None),                    # 10 no action
    rec(id="h11", created_at="yesterday"),         # 11 unusable timestamp
    rec(id="h2"),                                  # 12 duplicate of line 2
    rec(id="h13", action=""),                      # 13 empty action
    rec(id="h14", extra={"deep": {"er": [1, {"x": None}]}}),  # 14 fine, nested extras kept
    '{"id": "h15", "created_at": "2026-10-05T12:00:00Z", "action": "a.b", "dup": 1, "dup": 2}',  # 15 dup keys
    "{truncated",                                  # 16
]  # fmt: skip


def test_hostile_input_accounting(tmp_path):
    path = write_lines(tmp_path / "hostile.ndjson", HOSTILE)
    ws = auditlab.load(path)
    r = ws.last_report
    assert (r.lines, r.loaded, r.duplicates, r.quarantined) == (14, 4, 1, 9)
    assert r.lines == r.loaded + r.duplicates + r.quarantined
    assert {q.line: q.reason for q in r.quarantine} == {
        5: "invalid UTF-8",
        6: "not valid JSON",
        7: "not a JSON object (array)",
        8: "not a JSON object (string)",
        9: "no timestamp",
        10: "no action",
        11: "unusable timestamp: yesterday",
        13: "no action",
        16: "not valid JSON",
    }
    assert "\\xff" in r.quarantine[0].text
    assert all(q.source.endswith("hostile.ndjson") for q in r.quarantine)
    assert set(ws.to_polars()["event_id"]) == {"h1", "h2", "h14", "h15"}
    assert len(ws.quarantine().fetchall()) == r.quarantined
    extra = ws.sql("SELECT raw FROM events WHERE event_id = 'h14'").fetchall()[0][0]
    assert json.loads(extra)["extra"] == {"deep": {"er": [1, {"x": None}]}}


def test_bom_crlf_and_raw_verbatim(tmp_path):
    path = write_lines(tmp_path / "crlf.ndjson", ["\ufeff" + rec(id="a"), rec(id="b")], end=b"\r\n")
    ws = auditlab.load(path)
    assert ws.last_report.loaded == 2
    assert set(ws.to_polars()["raw"]) == {rec(id="a"), rec(id="b")}


def test_ten_megabyte_line(tmp_path):
    big = "x" * (10 * 1024 * 1024)
    path = write_lines(tmp_path / "big.ndjson", [rec(id="small"), rec(id="big", details={"blob": big})])
    ws = auditlab.load(path, settings=auditlab.Settings(chunk_bytes=1024 * 1024))
    assert ws.last_report.loaded == 2
    (length,) = ws.sql("SELECT length(details->>'$.blob') FROM events WHERE event_id = 'big'").fetchall()[0]
    assert length == len(big)


def test_key_first_seen_after_row_100000(tmp_path):
    lines = [rec(id=f"n{i}") for i in range(100_001)]
    lines.append(
        json.dumps(
            {
                "id": "late",
                "created_at": "2026-10-05T12:00:00Z",
                "action": "user.login",
                "actorEmail": "late@x.io",
                "brandNew": {"nested": 1},
            }
        )
    )
    ws = auditlab.load(write_lines(tmp_path / "late.ndjson", lines))
    assert ws.last_report.loaded == 100_002
    row = ws.sql("SELECT user_email, raw FROM events WHERE event_id = 'late'").fetchall()[0]
    assert row[0] == "late@x.io" and json.loads(row[1])["brandNew"] == {"nested": 1}


def test_nested_key_under_a_key_the_sample_saw_only_as_null(tmp_path):
    # "actor" is null in every sampled row, an object later: its keys still map (actor.email ->
    # user_email), and so do those of "user" when "user.email" turns into an object
    lines = [rec(id=f"n{i}", actor=None, user={"email": f"u{i}@x"}) for i in range(3000)]
    lines.append(rec(id="late", actor={"email": "late@x.io"}, user=None))
    lines.append(rec(id="deeper", user={"email": {"address": "deep@x.io"}}))
    ws = auditlab.load(write_lines(tmp_path / "late_nested.ndjson", lines))
    got = dict(
        ws.sql(
            "SELECT event_id, user_email FROM events WHERE event_id IN ('late', 'deeper', 'n7')"
        ).fetchall()
    )
    assert got == {"late": "late@x.io", "deeper": "deep@x.io", "n7": "u7@x"}


def test_stable_hash_id_dedupes_reloads(tmp_path):
    path = write_lines(
        tmp_path / "noid.ndjson",
        [
            json.dumps({"created_at": "2026-10-05T12:00:00Z", "action": "user.login", "n": i})
            for i in range(3)
        ],
    )
    ws = auditlab.load(path)
    assert ws.last_report.loaded == 3
    again = ws.add(path)
    assert (again.loaded, again.duplicates) == (0, 3)
    assert all(i.startswith("md5:") for i in ws.to_polars()["event_id"])


def test_many_inputs_gzip_zip_folder(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    write_lines(folder / "a.ndjson", [rec(id="a1"), rec(id="a2")])
    (folder / "sub" / "b.jsonl.gz").write_bytes(
        gzip.compress((rec(id="b1") + "\n" + rec(id="a1") + "\n").encode())
    )
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as z:
        z.writestr("nested/dir/audit_log.ndjson", rec(id="z1") + "\n" + rec(id="b1") + "\n")
    ws = auditlab.load(folder, tmp_path / "export.zip")
    r = ws.last_report
    assert (r.lines, r.loaded, r.duplicates, r.quarantined) == (6, 4, 2, 0)
    assert len(r.sources) == 3
    assert any(s.source.endswith("export.zip!nested/dir/audit_log.ndjson") for s in r.sources)


def test_strict_names_file_and_line(tmp_path):
    path = write_lines(tmp_path / "s.ndjson", [rec(id="1"), "oops"])
    with pytest.raises(InputError, match=r"s\.ndjson:2: not valid JSON"):
        auditlab.load(path, strict=True)


def test_missing_path_is_input_error(tmp_path):
    with pytest.raises(InputError, match=r"nope\.ndjson"):
        auditlab.load(tmp_path / "nope.ndjson")


def test_sort_order_is_timestamp_desc_then_event_id(tmp_path):
    path = write_lines(
        tmp_path / "o.ndjson", [rec(id="b"), rec(id="a"), rec(id="c", created_at="2026-10-06T00:00:00Z")]
    )
    assert auditlab.load(path).to_polars()["event_id"].to_list() == ["c", "a", "b"]


def test_calls_leave_no_open_result_on_the_connection():
    # DuckDB 2 refuses new work while a fetchone() result is unfinished
    ws = auditlab.load("data/samples/portal_audit_export.zip")
    assert ws.summary().events == ws.count() == 17050
    assert ws.time_span() is not None
    assert ws.sql("SELECT count(*) FROM quarantine").fetchall() == [(0,)]


def test_junk_first_lines_and_mixed_types(tmp_path):
    # a junk first line must not hide the log; a key that is an object in one row still fills
    # its column in the others; JSON that is not an object is named by its type
    lines = [
        "null",
        "123",
        "true",
        "{}",
        "  " + rec(id="ws") + "  ",
        rec(id="trail") + " trailing",
        rec(id="deep", a={"b": {"c": {"d": {"e": {"user_email": "x"}}}}}),
        rec(id="both", user={"email": "nested@x"}, userEmail="flat@x"),
        rec(id="num", action=123, outcome=False, user_id=42, details="plain text"),
        rec(id="objact", action={"name": "user.logout"}),
    ]
    ws = auditlab.load(write_lines(tmp_path / "mixed.ndjson", lines))
    r = ws.last_report
    assert r.sources[0].format == "ndjson"
    assert {q.line: q.reason for q in r.quarantine} == {
        1: "not a JSON object (null)",
        2: "not a JSON object (number)",
        3: "not a JSON object (boolean)",
        4: "no timestamp",
        6: "not valid JSON",
    }
    rows = {
        row[0]: row[1:]
        for row in ws.sql(
            "SELECT event_id, action, outcome, user_email, user_id, details FROM events"
        ).fetchall()
    }
    assert rows["ws"][0] == rows["deep"][0] == "user.login"
    assert rows["both"][2] == "flat@x"  # same normal form: the shorter path wins
    assert rows["num"] == ("123", "failure", None, "42", '"plain text"')
    assert rows["objact"][0] == "user.logout"  # {"action": {"name": ...}} -> action_name


def test_a_key_holding_an_object_fills_its_scalar_column_only_where_it_is_not_one(tmp_path):
    # "group" is an object in most rows (group_id/group_name from its keys) and the alias of
    # group_name; its scalar form is read only from rows where it lists no keys
    values = ["admins", None, {}, [1, 2], {"id": "g9"}, {"name": "n"}, 5, "{text"]
    lines = [rec(id=f"o{i}", group={"id": f"g{i}", "name": f"G{i}"}) for i in range(3)]
    lines += [rec(id=f"x{i}", group=v) for i, v in enumerate(values)]
    lines.append(json.dumps({"id": "nokey", "created_at": "2026-10-05T12:00:00Z", "action": "a.b"}))
    ws = auditlab.load(write_lines(tmp_path / "groups.ndjson", lines))
    got = dict(
        (row[0], row[1:]) for row in ws.sql("SELECT event_id, group_id, group_name FROM events").fetchall()
    )
    assert got == {
        "o0": ("g0", "G0"), "o1": ("g1", "G1"), "o2": ("g2", "G2"),
        "x0": (None, "admins"), "x1": (None, None), "x2": (None, None), "x3": (None, None),
        "x4": ("g9", None), "x5": (None, "n"), "x6": (None, "5"),
        "x7": (None, None),  # a text starting with "{" is taken for an object there (as before)
        "nokey": (None, None),
    }  # fmt: skip


def test_many_batches_are_merged_and_nothing_changes(tmp_path):
    path = write_lines(
        tmp_path / "many.ndjson",
        [rec(id=f"m{i}", created_at=f"2026-10-05T12:{i % 60:02d}:00Z") for i in range(150)],
    )
    ws = auditlab.load(path, settings=auditlab.Settings(chunk_bytes=100))  # a line a batch
    tables = ws.sql(
        "SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, '_events_')"
    ).fetchall()
    assert tables[0][0] <= 2  # merged after the load, the empty table beside it
    assert ws.count() == 150 and ws.to_polars()["event_id"].n_unique() == 150
    again = ws.add(path)
    assert (again.loaded, again.duplicates) == (0, 150)
