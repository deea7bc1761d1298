"""The CEF reader beyond the conformance vectors: records, labels, hostile lines, batching."""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlab.io import cef_read
from auditlab.io.cef import parse_cef, parse_cef_raw

H = "CEF:0|RL|Portal|1.0|user.login|User login|3|"


def records(*texts: str, batch_rows: int = 100_000) -> list[dict[str, str] | str]:
    t = pa.table({"source_line": pa.array(range(1, len(texts) + 1), pa.int64()), "text": list(texts)})
    out = parse_cef(t, batch_rows=batch_rows)
    assert out.column("source_line").to_pylist() == list(range(1, len(texts) + 1))
    return [
        json.loads(r) if r is not None else e
        for r, e in zip(out.column("record").to_pylist(), out.column("error").to_pylist(), strict=True)
    ]


def ext(record: dict[str, str] | str) -> dict[str, str]:
    assert isinstance(record, dict), record
    return {k: v for k, v in record.items() if k not in cef_read.RESERVED_KEYS}


ESCAPES = [
    (r"a\\nb", "a\\nb"),  # escaped backslash, then n: two characters, not a newline
    (r"a\nb", "a\nb"),
    (r"a\rb", "a\rb"),
    (r"a\=b", "a=b"),
    (r"a\\\=b", "a\\=b"),
    (r"a\\\\", "a\\\\"),
    (r"C:\Users\x", "C:\\Users\\x"),  # unknown escapes stay literal
    (r"trailing\\", "trailing\\"),
    ('say "hi"', 'say "hi"'),
    ("tab\there", "tab\there"),
    ("pipe|in|value", "pipe|in|value"),
    ("  lead and inner  spaces", "  lead and inner  spaces"),
    ("emoji \U0001f600 и 日本", "emoji \U0001f600 и 日本"),
    ("\ue000\U0010fffd sentinels", "\ue000\U0010fffd sentinels"),
    ("", ""),
]


@pytest.mark.parametrize("encoded, value", ESCAPES)
def test_value_decoding_is_one_pass(encoded: str, value: str) -> None:
    (rec,) = records(f"{H}msg={encoded} end=1")
    assert ext(rec) == {"msg": value, "end": "1"}


def test_header_fields_syslog_and_reserved_keys() -> None:
    (rec,) = records(
        r"<134>1 2026-01-02T03:04:05.123Z host-a app 1 - - CEF:1|V\|x|P\\|2|sig|N=1|Low|name=x severity=y"
    )
    assert rec == {
        "cef_version": "1", "device_vendor": "V|x", "device_product": "P\\", "device_version": "2",
        "signature_id": "sig", "name": "N=1", "severity": "Low",
        "syslog_timestamp": "2026-01-02T03:04:05.123Z", "syslog_host": "host-a",
        "cef_ext_name": "x", "cef_ext_severity": "y",
    }  # fmt: skip


@pytest.mark.parametrize(
    "prefix, ts, host",
    [
        ("Sep 19 08:26:10 example.com ", "Sep 19 08:26:10", "example.com"),
        ("<13>Oct  1 22:14:15 mymachine su: ", "Oct  1 22:14:15", "mymachine"),
        ("<132>Nov 13 13:17:41 ", "Nov 13 13:17:41", None),
        ("Apr 25 16:22:51.346 UTC hostname ", "Apr 25 16:22:51.346 UTC", "hostname"),
        ("1493141029000 hostname ", "1493141029000", "hostname"),
        ("leading garbage", None, None),
    ],
)
def test_syslog_prefixes(prefix: str, ts: str | None, host: str | None) -> None:
    (rec,) = records(f"{prefix}{H}a=1")
    assert isinstance(rec, dict)
    assert (rec.get("syslog_timestamp"), rec.get("syslog_host")) == (ts, host)


def test_labels_resolve_in_any_slot_and_case() -> None:
    (rec,) = records(
        f"{H}cs3Label=resourceType cs3=project deviceCustomString4=p1 cs4label=resourceId "
        "flexString1Label=authContext flexString1=api CN1LABEL=count cn1=7 cs5=nolabel cn2Label=novalue"
    )
    assert ext(rec) == {
        "resourceType": "project", "resourceId": "p1", "authContext": "api", "count": "7",
        "cs5": "nolabel", "cn2Label": "novalue",
    }  # fmt: skip


@pytest.mark.parametrize(
    "extension, expected",
    [
        # the label equals another key of the line: not resolved
        ("cs1Label=src cs1=a src=1.2.3.4", {"cs1Label": "src", "cs1": "a", "src": "1.2.3.4"}),
        # two slots with one label: neither resolves
        ("cs1Label=x cs1=a cs2Label=x cs2=b", {"cs1Label": "x", "cs1": "a", "cs2Label": "x", "cs2": "b"}),
        # a reserved record key as label: not resolved
        ("cs1Label=name cs1=a", {"cs1Label": "name", "cs1": "a"}),
        # an empty label does not count; the first non-empty one does
        ("cs1Label= cs1Label=y cs1Label=z cs1=a", {"y": "a"}),
        # a label with escapes becomes a JSON key
        (r"cs1Label=a\=b\\c cs1=v", {"a=b\\c": "v"}),
    ],
)
def test_label_rules(extension: str, expected: dict[str, str]) -> None:
    (rec,) = records(H + extension)
    assert ext(rec) == expected


def test_duplicate_keys_first_wins() -> None:
    import duckdb

    out = parse_cef(pa.table({"source_line": [1], "text": [f"{H}a=1 a=2"]}))
    text = out.column("record")[0].as_py()
    assert text.endswith(',"a":"1","a":"2"}')
    assert duckdb.sql("SELECT json_extract_string($t, '$.a')", params={"t": text}).fetchall() == [("1",)]
    assert parse_cef_raw([f"{H}a=1 a=2"])[0]["extensions"] == {"a": "1"}


@pytest.mark.parametrize(
    "line, error",
    [
        ("", "empty line"),
        ("hello", "no CEF header ('CEF:<version>|' not found)"),
        ("CEF:0|a|b|c", "incomplete CEF header (fewer than 7 '|'-separated fields)"),
        ("CEF:0|a|b|c|d|e|", "incomplete CEF header (no severity)"),
        (f"{H}just text", "extension text without a key"),
        (f"{H}a=1 =2", "unescaped '=' in the value of 'a'"),
        (f"{H}a=1 b=x=y", "unescaped '=' in the value of 'b'"),
    ],
)
def test_malformed_lines_get_a_reason(line: str, error: str) -> None:
    assert records(line) == [error]


def test_base64_padding_is_kept() -> None:
    (rec,) = records(f"{H}aid=3UBajWl0BABCABBzZSlmUdw== next=1")
    assert ext(rec) == {"aid": "3UBajWl0BABCABBzZSlmUdw==", "next": "1"}


def test_batches_keep_order_and_count() -> None:
    lines = [f"{H}i={i} cs1Label=n cs1={i}" if i % 3 else "bad" for i in range(25)]
    out = records(*lines, batch_rows=7)
    assert len(out) == 25
    assert [r["n"] if isinstance(r, dict) else r for r in out][:4] == [
        "no CEF header ('CEF:<version>|' not found)", "1", "2",
        "no CEF header ('CEF:<version>|' not found)",
    ]  # fmt: skip


def test_many_signatures_take_the_exploded_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cef_read, "_MAX_SIGNATURES", 1)
    out = records(f"{H}cs1Label=a cs1=1", f"{H}cs1Label=b cs1=2", f"{H}cs2Label=c cs2=3 c=9")
    assert [ext(r) for r in out] == [{"a": "1"}, {"b": "2"}, {"cs2Label": "c", "cs2": "3", "c": "9"}]


KEYS = st.sampled_from(["cs1", "cs2", "CS2", "deviceCustomString1", "cn1", "flexString1", "src", "x", "a.b"])
LABEL_TEXT = st.sampled_from(["", "x", "y", "src", "name", "a=b", "cs2"])


@st.composite
def custom_lines(draw: st.DrawFn) -> str:
    pairs = []
    for _ in range(draw(st.integers(0, 7))):
        key = draw(KEYS)
        if draw(st.booleans()) and key not in ("src", "x", "a.b"):
            pairs.append(f"{key}Label={draw(LABEL_TEXT).replace('=', chr(92) + '=')}")
        else:
            pairs.append(f"{key}={draw(st.sampled_from(['v', 'w', '']))}")
    return H + " ".join(pairs)


@settings(max_examples=150, deadline=None)
@given(st.lists(custom_lines(), min_size=1, max_size=6))
def test_signature_path_equals_exploded_path(lines: list[str]) -> None:
    rows = cef_read._split(pl.DataFrame({"text": lines}))
    members = rows.get_column("members")
    fast = cef_read._resolve(members).to_list()
    slow = cef_read._resolve_exploded(members).to_list()
    assert fast == slow
