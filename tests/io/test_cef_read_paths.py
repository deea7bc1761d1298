"""The CEF reader's fast paths give exactly what its general path gives, line for line.

* Header: the literal ``|`` split (lines without a backslash in the header) against the regex.
* Extension: the vocabulary path (keys and labels learnt from a sample, one literal
  multi-replace per line, literal checks) against the general path (key regex, decode pass,
  label resolution by signature). Lines that do not fit the vocabulary fall back, so any mix of
  lines must come out the same, whatever the sample saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlab.io import cef_read

H = "CEF:0|RL|Portal|1.0|user.login|User login|3|"


def general(lines: Sequence[str | None]) -> pl.DataFrame:
    """The general path only: header regex, key regex, decode pass, label resolution."""
    df = cef_read._header_frame(pl.DataFrame({"text": list(lines)}, schema={"text": pl.String}), split=False)
    rows = cef_read._head_columns(cef_read._extension(df, rename_reserved=True))
    return rows.with_columns(cef_read._resolve(rows.get_column("members")).alias("members"))


def fast(lines: Sequence[str | None]) -> pl.DataFrame:
    """What :func:`cef_read._records` reads: split header, vocabulary path, fallbacks."""
    df = cef_read._header_frame(pl.DataFrame({"text": list(lines)}, schema={"text": pl.String}))
    return cef_read._head_columns(df.with_columns(cef_read._members(df)))


def reference_records(lines: Sequence[str | None]) -> pl.DataFrame:
    """Records assembled from the general path's JSON literals, field by field."""
    rows = general(lines)
    head = [pl.lit('{"cef_version":"') + pl.col("cef_version") + pl.lit('"')]
    head += [pl.lit(f',"{k}":') + pl.col(k) for k in cef_read.HEADER_KEYS[1:]]
    opt = [
        pl.when(pl.col(k).is_not_null())
        .then(pl.lit(f',"{k}":') + cef_read._jstr(pl.col(k), cef_read._HEADER_MAP))
        .otherwise(pl.lit(""))
        for k in ("syslog_timestamp", "syslog_host")
    ]
    record = pl.concat_str([*head, *opt, pl.col("members"), pl.lit("}")])
    return rows.select(pl.when(pl.col("error").is_null()).then(record).alias("record"), "error")


def same(lines: Sequence[str | None]) -> None:
    a, b = general(lines), fast(lines)
    assert a.to_dicts() == b.to_dicts()
    records = cef_read._records(pl.DataFrame({"text": list(lines)}, schema={"text": pl.String}))
    assert records.to_dicts() == reference_records(lines).to_dicts()


@pytest.fixture
def tiny_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learn the vocabulary from very few lines, so most lines test the checks and fallbacks."""
    monkeypatch.setattr(cef_read, "_SAMPLE_ROWS", 2)


def test_a_uniform_batch_takes_the_vocabulary_path() -> None:
    lines = [
        f"{H}rt={i} cs1Label=resourceType cs1=project\\=x src=1.2.3.{i} msg=a\\\\nb name=n{i}"
        for i in range(50)
    ]
    keys: set[str] = set()
    contents: dict[str, set[str]] = {}
    df = cef_read._header_frame(pl.DataFrame({"text": lines}))
    raw = cef_read._extension(df, rename_reserved=False)
    assert cef_read._learn(raw.get_column("members"), keys, contents)
    assert keys == {"rt", "cs1Label", "cs1", "src", "msg", "name"}
    plan, blocked = cef_read._vocabulary_plan(keys, contents)
    assert (plan, blocked) == ({"cs1": "resourceType"}, set())
    members, ok = cef_read._fast_members(df.select(cef_read._ext_expr()).to_series(), keys, plan, blocked)
    assert ok.all()
    assert (
        members[3]
        == ',"rt":"3","resourceType":"project=x","src":"1.2.3.3","msg":"a\\\\nb","cef_ext_name":"n3"'
    )
    same(lines)


@pytest.mark.parametrize(
    "odd",
    [
        "rt=1 cs1Label=other cs1=v",  # another label for a planned slot
        "rt=1 cs1=v",  # value without its label
        "rt=1 cs1Label=resourceType",  # label without its value
        "rt=1 cs1Label= cs1Label=resourceType cs1=v",  # an empty label first
        "rt=1 cs1Label=resourceTypeX cs1=v",  # the label continues
        "rt=1 cs1Label=resourceType==  cs1=v",  # '=' after the label
        "rt=1 cs1Label=resourceType cs1=v resourceType=w",  # the label is a key of the line
        "rt=1 cs1Label=resourceType cs1=v new=1",  # an unknown key
        "rt=1 cs1Label=resourceType cs1=v new=",  # an unknown key, empty value
        "rt=1 cs1Label=resourceType cs1=v new==",  # an unknown key, '=' run
        "rt=1 cs1Label=resourceType cs1=v\tnew=",  # an unknown key after a tab
        "rt=1 cs1Label=resourceType cs1=v==",  # base64 padding
        "rt=1 cs1Label=resourceType cs1=v== src=x",  # padding before a pair
        "rt=1 cs1Label=resourceType cs1=a=b",  # unescaped '='
        "rt=1 cs1Label=resourceType cs1=a \\\\tnew=",  # '\\' then t: not a key
        "junk rt=1",  # text before the first key
        "=x rt=1",
        "rt=1  cs1Label=resourceType\tcs1=v ",  # spaces and tabs
        "cs1Label=resourceType cs1=v rt=1 cs1Label=resourceType",  # the label twice
        "cs1=v cs1Label=resourceType",  # label after value
        "",
        "rt=1 name=x severity=y",  # reserved keys
    ],
)
def test_lines_off_the_vocabulary_match_the_general_path(odd: str, tiny_sample: None) -> None:
    common = [f"{H}rt={i} cs1Label=resourceType cs1=v{i} src=s" for i in range(300)]
    # the sample (lines 0 and 186) misses the odd line: it meets the vocabulary path's checks
    same([common[0], H + odd, *common[1:]])
    same([H + odd, *common])  # in the sample: the vocabulary learns it


def test_header_split_matches_the_regex() -> None:
    lines = [
        'CEF:0|"q"|a\tb|\x01\x1f\x7f|é😀\u2028|N=1 x=2|3|a=1',  # JSON escapes in header fields
        'CEF:0|"q\\|"|a\tb\\\\|\\x|é|N=1|3|a=1',  # the same with header escapes
        f"{H}a=1",
        r"CEF:0|V\|x|P\\|2|sig|N=1|Low|a=1",  # escapes: regex
        "<134>1 2026-01-02T03:04:05.123Z host-a app 1 - - CEF:1|V|P|2|sig|N|Low|a=1",
        "xCEF:1CEF:2|a|b|c|d|e|f|a=1",
        "CEF:0|a|b|c|d|e|f",  # no pipe after the severity
        "CEF:0|a|b|c|d|e|",  # no severity
        "CEF:0|a|b|c",
        "CEF:x|a|b|c|d|e|f|g|",
        "pre|fix CEF:0|a|b|c|d|e|f|a=1",
        "CEF:0|a|b|c|d|e|f|a=1|b|c=2",
        None,
        "",
    ]
    a = cef_read._header_frame(pl.DataFrame({"text": lines}), split=False)
    b = cef_read._header_frame(pl.DataFrame({"text": lines}))
    assert a.to_dicts() == b.to_dicts()
    same(lines)


KEYS = ["cs1", "cs2", "CS2", "deviceCustomString1", "cn1", "flexString1", "src", "x", "a.b", "name", "new"]
LABELS = ["", "x", "y", "src", "name", "a\\=b", "cs2", "resource type", "lab", "lab ", "new"]
VALUES = [
    "v",
    "w",
    "",
    "a b",
    "x\\=y",
    "\\\\n",
    "p|q",
    "x=y",
    "==",
    "t==",
    " lead",
    "tab\there",
    '"q"',
    "\\",
    "é😀",
]


@st.composite
def cef_lines(draw: st.DrawFn) -> str:
    pairs = []
    for _ in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from(KEYS))
        if draw(st.booleans()) and key not in ("src", "x", "a.b", "name", "new"):
            pairs.append(f"{key}Label={draw(st.sampled_from(LABELS))}")
        else:
            pairs.append(f"{key}={draw(st.sampled_from(VALUES))}")
    seps = st.sampled_from([" ", " ", " ", "\t", "  "])
    ext = "".join(f"{draw(seps) if i else ''}{p}" for i, p in enumerate(pairs))
    heads = [
        H,
        H,
        "CEF:0|a\\|b|c|d|e|f|g|",
        "<13>Oct  1 22:14:15 host su: " + H,
        'CEF:1|"v"|p\tq|=|\x01|é😀|Low|',
    ]
    return draw(st.sampled_from(heads)) + ext


@st.composite
def batches(draw: st.DrawFn) -> list[str]:
    """Mostly copies of a few lines (so a vocabulary forms), with odd lines mixed in."""
    common = draw(st.lists(cef_lines(), min_size=1, max_size=3))
    odd = draw(st.lists(cef_lines(), max_size=4))
    lines = [common[i % len(common)] for i in range(draw(st.integers(1, 12)))]
    for line in odd:
        lines.insert(draw(st.integers(0, len(lines))), line)
    return lines


@settings(max_examples=100, deadline=None)
@given(batches())
def test_fast_paths_equal_the_general_path(lines: list[str]) -> None:
    same(lines)


@settings(max_examples=60, deadline=None)
@given(batches())
def test_fast_paths_equal_the_general_path_with_a_tiny_sample(lines: list[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cef_read, "_SAMPLE_ROWS", 1)
        same(lines)


def test_fallback_rounds_learn_new_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cef_read, "_SAMPLE_ROWS", 1)  # round 1 learns the first line only
    a = [f"{H}rt={i} cs1Label=resourceType cs1=v{i}" for i in range(40)]
    b = [f"{H}ts={i} flexString1Label=authContext flexString1=api cs1=w" for i in range(40)]
    same(a + b)
    same([x for pair in zip(a, b, strict=True) for x in pair])


@pytest.mark.parametrize("end", [" ", "\t", "\r", "\n", " \t\r\n"])
def test_trailing_whitespace_is_trimmed(end: str) -> None:
    out = cef_read._records(pl.DataFrame({"text": [f"{H}a=1 b=2{end}", f"{H}a=1 b=2"]}))
    assert out.get_column("record")[0].endswith(',"a":"1","b":"2"}')
    assert out.get_column("record")[0] == out.get_column("record")[1]
