"""write_cef: escaping, mapping, severity, and write -> read round trips of arbitrary values."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auditlab
from auditlab.errors import InputError
from auditlab.io.cef import CUSTOM_STRINGS, STANDARD_KEYS, parse_cef, severity, write_cef
from auditlab.schema import EVENTS_SCHEMA

UTC = dt.UTC
T0 = dt.datetime(2026, 10, 1, 12, 0, 0, 123000, tzinfo=UTC)


def table(rows: list[dict[str, object]]) -> pa.Table:
    base = {"event_id": "e", "timestamp": T0, "action": "user.login", "source": "s", "source_line": 1}
    return pa.Table.from_pylist([{**base, **r} for r in rows], schema=EVENTS_SCHEMA)


def cef_text(rows: list[dict[str, object]]) -> str:
    buf = io.BytesIO()
    write_cef(table(rows), buf)
    return buf.getvalue().decode("utf-8")


def read_back(text: str) -> list[dict[str, str]]:
    lines = text.split("\n")
    assert lines[-1] == ""
    out = parse_cef(
        pa.table({"source_line": pa.array(range(len(lines) - 1), pa.int64()), "text": lines[:-1]})
    )
    assert out.column("error").null_count == out.num_rows, out.column("error").to_pylist()
    return [json.loads(r) for r in out.column("record").to_pylist()]


def test_line_shape_and_mapping() -> None:
    text = cef_text([{
        "event_id": "ev-1", "outcome": "failure", "user_email": "a@b.c", "user_id": "u1", "ip_address": "::1",
        "error_message": "Invalid credentials", "resource_type": "user", "resource_id": "u1",
        "request_id": "r-1", "auth_context": "portal", "details": '{"k":"v=1"}',
    }])  # fmt: skip
    assert text == (
        f"CEF:0|ReversingLabs|Spectra Assure Portal|{auditlab.__version__}|user.login|User login|8|"
        "rt=1790856000123 externalId=ev-1 act=user.login outcome=failure suser=a@b.c suid=u1 src=::1 "
        "reason=Invalid credentials cs1Label=resourceType cs1=user cs2Label=resourceId cs2=u1 "
        "cs4Label=requestId cs4=r-1 flexString1Label=authContext flexString1=portal "
        'msg={"k":"v\\=1"} cat=login\n'
    )


def test_header_escaping_and_no_line_breaks() -> None:
    text = cef_text([{"action": "x|y\\z\r\nw", "user_email": "a\nb\rc"}])
    assert text.count("\n") == 1 and "\r" not in text
    assert text.startswith(
        r"CEF:0|ReversingLabs|Spectra Assure Portal|" + auditlab.__version__ + r"|x\|y\\z  w|x\|y\\z  w|3|"
    )
    (rec,) = read_back(text)
    assert rec["act"] == "x|y\\z\r\nw"  # the exact action travels in act
    assert rec["suser"] == "a\nb\rc"


def test_microseconds_travel_in_a_labelled_timestamp() -> None:
    t = dt.datetime(2026, 10, 1, 12, 0, 0, 123456, tzinfo=UTC)
    (rec,) = read_back(
        cef_text(
            [
                {"timestamp": t},
            ]
        )
    )
    assert rec["rt"] == "1790856000123"
    assert rec["timestamp"] == "2026-10-01T12:00:00.123456Z"
    (rec,) = read_back(cef_text([{"timestamp": T0}]))
    assert "timestamp" not in rec


@pytest.mark.parametrize(
    "action, outcome, expected",
    [
        ("user.login", "success", 3),
        ("user.login", "failure", 8),
        ("user.pat.revoked", "success", 8),
        ("user.pat.created", "success", 6),
        ("organization.sso.saml.setup.applied", "success", 7),
        ("version.downloaded", "success", 2),
        ("project.deleted", "success", 5),
        ("project.created", "failure", 6),
        ("made.up", "failure", 6),
    ],
)
def test_severity_scheme(action: str, outcome: str, expected: int) -> None:
    assert severity(action, outcome) == expected
    assert cef_text([{"action": action, "outcome": outcome}]).split("|")[6] == str(expected)


def test_dest_rules(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = write_cef(table([{}]), tmp_path / "a.cef.gz")
    import gzip

    assert gzip.decompress(p.read_bytes()).startswith(b"CEF:0|")
    with pytest.raises(InputError, match="exists"):
        write_cef(table([{}]), p)
    write_cef(table([{}, {}]), p, overwrite=True)
    assert gzip.decompress(p.read_bytes()).count(b"\n") == 2
    with pytest.raises(InputError, match="lack column"):
        write_cef(pa.table({"x": [1]}), tmp_path / "b.cef")
    assert not (tmp_path / "b.cef").exists()


# Values CEF must carry exactly: pipes, equals, backslashes, CR/LF, tabs, emoji, edge spaces, "".
VALUES = st.lists(
    st.one_of(
        st.sampled_from(
            [*"|=\\\n\r\t \"'{}:,", "\\n", "\\=", "\U0001f600", "\u2028", "\x00", "\x7f", "\ue000"]
        ),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=12,
).map("".join)
COLUMNS = [*STANDARD_KEYS, *CUSTOM_STRINGS]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({c: st.one_of(st.none(), VALUES) for c in COLUMNS if c != "action"}),
        min_size=1,
        max_size=5,
    )
)
def test_round_trip_arbitrary_values(rows: list[dict[str, str | None]]) -> None:
    rows = [{**r, "event_id": r["event_id"] if r["event_id"] is not None else "e"} for r in rows]
    recs = read_back(cef_text(rows))
    for row, rec in zip(rows, recs, strict=True):
        for col in COLUMNS:
            if col == "action":
                continue
            key = STANDARD_KEYS.get(col) or CUSTOM_STRINGS[col][1]
            assert rec.get(key) == row[col], (col, row[col], rec.get(key))
