"""write_ndjson: raw records back unchanged, Portal-shaped records otherwise, timestamps exact."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pyarrow as pa
import pytest

from auditlab.errors import InputError
from auditlab.io.ndjson import write_ndjson
from auditlab.schema import EVENTS_SCHEMA

UTC = dt.UTC


def table(rows: list[dict[str, object]]) -> pa.Table:
    base = {"event_id": "e", "timestamp": dt.datetime(2026, 10, 1, 12, 0, tzinfo=UTC), "action": "user.login",
            "source": "s", "source_line": 1}  # fmt: skip
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=EVENTS_SCHEMA)


def lines(t: pa.Table) -> list[str]:
    buf = io.BytesIO()
    write_ndjson(t, buf)
    text = buf.getvalue().decode()
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_raw_json_objects_are_written_back_unchanged() -> None:
    raw = '{"id": "x",  "created_at": "2026-10-01T12:00:00Z", "extra": [1, 2], "uni": "\\u00e9"}'
    assert lines(table([{"raw": raw}])) == [raw]
    # a raw record spread over lines is minified so it stays one line
    assert lines(table([{"raw": '{"a":\n 1}'}])) == ['{"a":1}']


def test_portal_shape_when_raw_is_not_json() -> None:
    (line,) = lines(table([{
        "raw": "CEF:0|...", "event_id": "ev", "outcome": "failure", "auth_context": "api", "user_id": "u",
        "user_email": "a@b", "ip_address": "10.0.0.1", "resource_type": "group", "resource_id": "g1",
        "resource_name": "G", "group_id": "g1", "request_id": "r", "error_message": "nope",
        "details": '{"changes":[{"field":"name"}]}',
    }]))  # fmt: skip
    assert json.loads(line) == {
        "id": "ev", "created_at": "2026-10-01T12:00:00.000Z", "action": "user.login", "outcome": "unsuccessful",
        "error_message": "nope", "auth_context": "API", "user": {"id": "u", "email": "a@b"},
        "ip_address": "10.0.0.1", "target": {"type": "group", "id": "g1", "name": "G"},
        "group": {"id": "g1", "name": None}, "project": None, "package": None, "version": None,
        "request_id": "r", "details": {"changes": [{"field": "name"}]},
    }  # fmt: skip
    assert line.startswith('{"id":"ev","created_at":')


@pytest.mark.parametrize(
    "micro, text",
    [(0, "2026-10-01T12:00:00.000Z"), (123000, "2026-10-01T12:00:00.123Z"), (123456, "2026-10-01T12:00:00.123456Z"),
     (1, "2026-10-01T12:00:00.000001Z")],
)  # fmt: skip
def test_timestamps_ms_or_us(micro: int, text: str) -> None:
    ts = dt.datetime(2026, 10, 1, 12, 0, 0, micro, tzinfo=UTC)
    (line,) = lines(table([{"timestamp": ts}]))
    assert json.loads(line)["created_at"] == text


def test_unknown_outcome_and_context_kept_and_gzip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = table([{"outcome": "partial", "auth_context": "cli"}, {"details": "not json"}])
    p = write_ndjson(t, tmp_path / "out.ndjson.gz")
    recs = [json.loads(x) for x in gzip.decompress(p.read_bytes()).decode().splitlines()]
    assert (recs[0]["outcome"], recs[0]["auth_context"]) == ("partial", "cli")
    assert recs[1]["details"] == "not json"
    with pytest.raises(InputError, match="exists"):
        write_ndjson(t, p)


def test_accepts_objects_with_to_arrow() -> None:
    class Sel:
        def to_arrow(self) -> pa.Table:
            return table([{"event_id": "z"}])

    assert json.loads(lines(Sel())[0])["id"] == "z"  # type: ignore[arg-type]
