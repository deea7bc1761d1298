"""Streamed writers: the bytes of a store, workspace or query result, window by window, equal the
bytes of the previous writers (a frozen copy below: Arrow table in Python, one SQL over it)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import zipfile
from pathlib import Path
from typing import Any
from unittest import mock

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auditlab
from auditlab.catalog import ACTIONS
from auditlab.io import _sink
from auditlab.io import export as export_module
from auditlab.io._sink import EventsSource, events_source, events_table
from auditlab.io.cef import CUSTOM_STRINGS, EXACT_TIMESTAMP, STANDARD_KEYS, severity, write_cef
from auditlab.io.cef_write import PRODUCT, VENDOR, cef_lines, readable_name
from auditlab.io.export import export
from auditlab.io.ndjson import ISO_SQL, ndjson_lines, write_ndjson
from auditlab.schema import EVENTS_SCHEMA

UTC = dt.UTC
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "portal_audit_export.zip"
NOW = dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC)

# -- the writers as they were before streaming (commit 4bcb548), kept verbatim as the reference --
_OLD_NDJSON = f"""
SELECT CASE
  WHEN (CASE WHEN json_valid(raw) THEN json_type(raw) END) = 'OBJECT'
    THEN CASE WHEN strpos(raw, chr(10)) > 0 OR strpos(raw, chr(13)) > 0 THEN json(raw)::VARCHAR ELSE raw END
  ELSE json_object(
    'id', event_id,
    'created_at', {ISO_SQL},
    'action', action,
    'outcome', CASE outcome WHEN 'success' THEN 'successful' WHEN 'failure' THEN 'unsuccessful' ELSE outcome END,
    'error_message', error_message,
    'auth_context', CASE auth_context WHEN 'portal' THEN 'PORTAL' WHEN 'api' THEN 'API' ELSE auth_context END,
    'user', json_object('id', user_id, 'email', user_email),
    'ip_address', ip_address,
    'target', json_object('type', resource_type, 'id', resource_id, 'name', resource_name),
    'group', CASE WHEN group_id IS NULL AND group_name IS NULL THEN NULL
                  ELSE json_object('id', group_id, 'name', group_name) END,
    'project', CASE WHEN project_name IS NULL THEN NULL ELSE json_object('name', project_name) END,
    'package', CASE WHEN package_name IS NULL THEN NULL ELSE json_object('name', package_name) END,
    'version', CASE WHEN version_name IS NULL THEN NULL ELSE json_object('name', version_name) END,
    'request_id', request_id,
    'details', CASE WHEN details IS NULL THEN NULL
                    WHEN json_valid(details) THEN CAST(details AS JSON)
                    ELSE to_json(details) END
  )::VARCHAR
END || chr(10) AS line
FROM ev
"""

_OLD_MACROS = r"""
CREATE OR REPLACE TEMP MACRO cef_h(v) AS
  replace(replace(replace(replace(v, '\', '\\'), '|', '\|'), chr(13), ' '), chr(10), ' ');
CREATE OR REPLACE TEMP MACRO cef_e(v) AS
  replace(replace(replace(replace(v, '\', '\\'), '=', '\='), chr(13), '\r'), chr(10), '\n');
"""


def _old_cef_sql() -> str:
    def pair(key: str, column: str) -> str:
        return f"CASE WHEN {column} IS NOT NULL THEN '{key}=' || cef_e({column}) END"

    def labelled(slot: str, label: str, value_sql: str) -> str:
        return (
            f"CASE WHEN {value_sql} IS NOT NULL THEN '{slot}Label={label} {slot}=' || cef_e({value_sql}) END"
        )

    at = "list_position($acts, action)"
    sev = (
        f"CASE WHEN outcome = 'failure' THEN coalesce($sev_fail[{at}], 6) ELSE coalesce($sev_ok[{at}], 3) END"
    )
    pairs = ["'rt=' || epoch_ms(timestamp)"]
    pairs += [pair(key, col) for col, key in STANDARD_KEYS.items()]
    pairs += [labelled(slot, label, col) for col, (slot, label) in CUSTOM_STRINGS.items()]
    pairs.append(
        labelled(*EXACT_TIMESTAMP, f"CASE WHEN microsecond(timestamp) % 1000 <> 0 THEN {ISO_SQL} END")
    )
    pairs.append(pair("msg", "details"))
    pairs.append(f"'cat=' || coalesce($families[{at}], 'other')")
    head = "'CEF:0|' || $vendor || '|' || $product || '|' || $version || '|' || cef_h(action) || '|'"
    head += f" || cef_h(coalesce($names[{at}], action)) || '|' || ({sev}) || '|'"
    ext = f"concat_ws(' ', {', '.join(pairs)})"
    source = "(SELECT * REPLACE (CASE WHEN trim(CAST(details AS VARCHAR)) <> 'null' THEN CAST(details AS VARCHAR) END AS details) FROM ev)"
    return f"SELECT {head} || {ext} || chr(10) AS line FROM {source}"


def old_bytes(events: Any, fmt: str) -> bytes:
    """What the writers wrote before streaming: ``to_arrow()``, then one SQL over the table."""
    acts = sorted(ACTIONS)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("ev", events_table(events))
    if fmt == "ndjson":
        rel = con.sql(_OLD_NDJSON)
    else:
        con.execute(_OLD_MACROS)
        params = {
            "vendor": VENDOR, "product": PRODUCT, "version": auditlab.__version__, "acts": acts,
            "names": [readable_name(a) for a in acts], "families": [ACTIONS[a].family for a in acts],
            "sev_ok": [severity(a, "success") for a in acts], "sev_fail": [severity(a, "failure") for a in acts],
        }  # fmt: skip
        rel = con.sql(_old_cef_sql(), params=params)
    return "".join(rel.to_arrow_table().column("line").to_pylist()).encode("utf-8")


def new_bytes(events: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    (write_ndjson if fmt == "ndjson" else write_cef)(events, buf)
    return buf.getvalue()


# -- the sample, through a store, a workspace and query results, in small windows ----------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> auditlab.Store:
    st_ = auditlab.open_store(tmp_path_factory.mktemp("store") / "s")
    st_.ingest(SAMPLE)
    return st_


@pytest.mark.parametrize("fmt", ["ndjson", "cef"])
def test_streamed_bytes_equal_the_previous_writers_on_the_sample(store: auditlab.Store, fmt: str) -> None:
    ws = auditlab.load(SAMPLE)
    with mock.patch.object(_sink, "WINDOW_ROWS", 2500):
        assert len(EventsSource(store.con).windows()) > 17_050 // 2500
        for events in (store, ws, store.query("outcome is failure; all time"), ws.query("since 7d")):
            assert new_bytes(events, fmt) == old_bytes(events, fmt), events
    assert new_bytes(store, fmt) == new_bytes(ws, fmt)  # one window; the same bytes
    table = ws.to_arrow()
    assert new_bytes(table, fmt) == old_bytes(table, fmt)


def test_windows_are_contiguous_newest_first_and_hold_every_event(store: auditlab.Store) -> None:
    with mock.patch.object(_sink, "WINDOW_ROWS", 500):
        windows = EventsSource(store.con).windows()
    span = store.time_span()
    assert span is not None and all(w is not None for w in windows)
    bounds = [w for w in windows if w is not None]
    assert bounds[0][1] == span[1] + dt.timedelta(microseconds=1) and bounds[-1][0] == span[0]
    assert all(a[0] == b[1] for a, b in itertools.pairwise(bounds))
    counts = [
        store.con.execute(
            "SELECT count(*) FROM events WHERE timestamp >= ? AND timestamp < ?", list(w)
        ).fetchall()[0][0]
        for w in bounds
    ]
    assert sum(counts) == store.count() and max(counts) <= 500
    assert EventsSource(store.con).windows() == [None]  # 17,050 events: one statement


def test_export_zip_of_a_store_is_the_zip_of_its_table(store: auditlab.Store, tmp_path: Path) -> None:
    with mock.patch.object(_sink, "WINDOW_ROWS", 3000):
        streamed = export(store, "all", out_dir=tmp_path / "a", now=NOW)
    table = export(store.to_arrow(), "all", out_dir=tmp_path / "b", now=NOW)
    assert streamed.read_bytes() == table.read_bytes()
    with zipfile.ZipFile(streamed) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["counts"] == {"events": store.count()}
    assert {m["events"] for m in manifest["members"].values()} == {store.count()}


def test_an_arrow_table_keeps_its_order_in_a_private_connection() -> None:
    table = auditlab.load(SAMPLE).to_arrow().slice(0, 50)
    shuffled = table.take(list(range(49, -1, -2)) + list(range(0, 50, 2)))
    with events_source(shuffled) as source:
        assert (source.table, source.ordered) == ("ev", False)
        with cef_lines(source) as lines:
            text = "".join(lines.read_all().column(0).to_pylist())
    ids = [line.split(" externalId=", 1)[1].split(" ", 1)[0] for line in text.splitlines()]
    assert ids == shuffled.column("event_id").to_pylist()
    assert source.con is not None
    with pytest.raises(duckdb.ConnectionException):  # the private connection is closed
        source.con.execute("SELECT 1")


# -- a hypothesis draw: ties on timestamps, special characters, tiny windows ---------------------

TEXT = st.one_of(
    st.none(),
    st.lists(st.sampled_from([*'|=\\\n\r ab{}":', "\u00e9", "\U0001f600"]), max_size=6).map("".join),
)
INSTANTS = [
    dt.datetime(2026, 10, 1, tzinfo=UTC) + dt.timedelta(microseconds=m)
    for m in (0, 1, 999, 1000, 86_400_000_000)
]
ROW = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(INSTANTS),
        "action": st.sampled_from(["user.login", "user.pat.revoked", "no.such|action\n"]),
        "outcome": st.sampled_from([None, "success", "failure"]),
        "user_email": TEXT, "ip_address": TEXT, "resource_name": TEXT, "group_name": TEXT,
        "details": st.sampled_from([None, '{"a":"b=c"}', "null", "not json", '{"x":\n1}']),
        "raw": st.sampled_from([None, '{"id":"r"}', '{"id":\n"r"}', "CEF:0|x", "[1]"]),
    }
)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.lists(ROW, min_size=1, max_size=12), st.integers(1, 4))
def test_streamed_bytes_equal_the_previous_writers_on_a_draw(rows: list[dict[str, Any]], window: int) -> None:
    rows = [{**r, "event_id": f"e{i % 7}-{i}", "source": "s", "source_line": i} for i, r in enumerate(rows)]
    table = pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("drawn", table)
    con.execute("CREATE TABLE events AS SELECT * FROM drawn")
    ordered = table.sort_by([("timestamp", "descending"), ("event_id", "ascending")])
    with mock.patch.object(_sink, "WINDOW_ROWS", window):
        source = EventsSource(con)
        for lines, fmt in ((ndjson_lines, "ndjson"), (cef_lines, "cef")):
            with lines(source) as batches:
                got = "".join(batches.read_all().column(0).to_pylist()).encode()
            assert got == old_bytes(ordered, fmt)


class _FailingSink:
    """A stream whose second write fails, like a full disk."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes == 2:
            raise OSError("No space left on device")
        return len(data)


@pytest.mark.parametrize("writer", [write_ndjson, write_cef])
def test_a_failed_write_leaves_the_connection_usable(
    store: auditlab.Store, writer: Any, tmp_path: Path
) -> None:
    with mock.patch.object(_sink, "WINDOW_ROWS", 5000), mock.patch.object(_sink, "BATCH_ROWS", 1000):
        with pytest.raises(OSError, match="No space") as raised:
            writer(store, _FailingSink())
        # the traceback is still alive (as in a notebook), yet no DuckDB result holds the connection
        assert raised.value.__traceback__ is not None
        assert store.count() == 17_050
        with (
            mock.patch.object(export_module._Hashing, "write", side_effect=OSError("No space left")),
            pytest.raises(OSError, match="No space"),
        ):
            export(store, "x", out_dir=tmp_path, now=NOW)
        assert store.count() == 17_050
        assert list(tmp_path.iterdir()) == []  # no half ZIP
