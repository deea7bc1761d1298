"""All 119 CEF conformance vectors (tests/data/cef_vectors.json) against the reader's raw layer.

* ``spec`` and not disputed: must pass.
* ``lenient``/``peer-specific`` and not disputed: pass, or are in :data:`REFUSED` (listed in
  docs/cef.md with the reason) and then behave as pinned there.
* disputed: :data:`FOLLOWED` must pass; :data:`NOT_FOLLOWED` must not, and behave as pinned.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from auditlab.io.cef import parse_cef_raw

ROOT = Path(__file__).resolve().parents[2]
DATA = json.loads((ROOT / "tests" / "data" / "cef_vectors.json").read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = DATA["vectors"]
BY_ID = {v["id"]: v for v in VECTORS}
HEADER = ("device_vendor", "device_product", "device_version", "signature_id", "name", "severity")

# Non-disputed tolerances we refuse, and what auditlab does instead.
REFUSED: dict[str, dict[str, Any]] = {
    # error recovery: peers drop the bad pair and keep the rest; we quarantine the line (the
    # same inputs are spec vectors that must be rejected: es-ingest-006, -007, -010)
    "beats-011": {"error": "unescaped '=' in the value of 'requestClientApplication'"},
    "beats-012": {"error": "unescaped '=' in the value of 'id'"},
    "beats-020": {"error": "incomplete CEF header (fewer than 7 '|'-separated fields)"},
    "beats-processor-001": {"error": "unescaped '=' in the value of 'msg'"},
    # a trailing run of '=' (base64 padding) is kept in the value; beats drops key1 instead
    "beats-019": {"extensions": {"key1": "\\hi=", "key2": "a"}},
    # an unescaped '=' inside a value, accepted by logstash / VRL strict=false
    "logstash-011": {"error": "unescaped '=' in the value of 'requestClientApplication'"},
    "vrl-013": {"error": "unescaped '=' in the value of 'msg'"},
    "vrl-014": {"error": "unescaped '=' in the value of 'request'"},
    # a keyless extension ('...'), as logstash-003 (spec) rejects
    "graylog-011": {"error": "extension text without a key"},
    # VRL strips surrounding double quotes: they are data, kept
    "vrl-003": {"header": {"device_vendor": '"Security"'}, "extensions": {"src": '"10.0.0.1"'}},
}

# Disputed vectors: the side auditlab takes.
FOLLOWED = {
    "jcustenborder-002", "vrl-002",  # empty values are kept as ''
    "logstash-006", "logstash-016", "vrl-020", "es-ingest-009",  # unknown escapes kept verbatim
    "beats-009",  # an unescaped '=' inside a value rejects the line
    "beats-014", "es-ingest-002",  # one space separates pairs; other spaces belong to the value
    "es-ingest-008",  # a TAB right before a key separates too
    "beats-golden-001",  # ',' '[' ']' '.' '-' are key characters
    "beats-golden-005",  # a leading space after '=' is part of the value
    "jcustenborder-004", "graylog-006",  # \r is CR
    "vrl-001",  # CEF:1 (and any number) is accepted
}  # fmt: skip
NOT_FOLLOWED: dict[str, dict[str, Any]] = {
    "beats-005": {"extensions": {"dst": ""}},
    "es-ingest-011": {"extensions": {"src": "", "spt": ""}},
    "beats-007": {"extensions": {"moo": "this\\|has an escaped pipe"}},
    "liblognorm-007": {"extensions": {"name": "v\\alue"}},
    "liblognorm-008": {"header": {"device_vendor": "V\\endor"}},
    "logstash-007": {"error": "unescaped '=' in the value of 'moo'"},
    "vrl-010": {"extensions": {"msg": "Detected a threat. No action needed  "}},
    "logstash-017": {"extensions": {"src": "10.0.0.192 ", "dst": "12.121.122.82 "}},
    "logstash-019": {"extensions": {"dst": "12.121.122.82 "}},
    "beats-017": {"extensions": {"msg": "Tab is not a separator", "src": "127.0.0.1"}},
    "liblognorm-006": {"extensions": {"n,me": "value"}},
    "graylog-009": {"extensions": {"classification": " syslog,errors,"}},
    "vrl-009": {"extensions": {"msg": "Detected a threat.\r No action needed"}},
    "liblognorm-012": {"header": {"device_vendor": "Vendor"}, "version": 1},
}


def _input(v: dict[str, Any]) -> str | None:
    if "input_encoding" in v:
        try:
            return v["input"].encode(v["input_encoding"]).decode("utf-8")
        except UnicodeDecodeError:
            return None  # the loader hands such a line over as invalid UTF-8
    return str(v["input"])


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    got = parse_cef_raw([_input(v) for v in VECTORS])
    return {v["id"]: g for v, g in zip(VECTORS, got, strict=True)}


def problems(v: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """How ``got`` differs from the vector's expectation (empty: it passes)."""
    if v.get("expect_error"):
        return [] if "error" in got else ["expected an error"]
    if "error" in got:
        return [f"error: {got['error']}"]
    exp = v["expect"]
    out = []
    if exp.get("version") is not None and exp["version"] != got["version"]:
        out.append(f"version {got['version']}")
    out += [f"{k}={got[k]!r}" for k in HEADER if k in exp and exp[k] != got[k]]
    want, have = exp.get("extensions", {}), got["extensions"]
    keys = set(want) if v.get("extensions_subset") else set(want) | set(have)
    out += [f"ext {k}={have.get(k)!r}" for k in sorted(keys) if have.get(k) != want.get(k)]
    out += [f"ext {k} present" for k in v.get("absent_keys", []) if k in have]
    host = v.get("prefix_fields", {}).get("host")
    if host is not None and got["syslog_host"] != host:
        out.append(f"syslog_host={got['syslog_host']!r}")
    if "prefix" in v and got["prefix"].strip() != v["prefix"]:
        out.append(f"prefix={got['prefix']!r}")
    return out


def check_pinned(got: dict[str, Any], pinned: dict[str, Any]) -> None:
    if "error" in pinned:
        assert got == {"error": pinned["error"]}
        return
    assert "error" not in got, got
    for k, val in pinned.get("header", {}).items():
        assert got[k] == val
    for k, val in pinned.get("extensions", {}).items():
        assert got["extensions"][k] == val
    if "version" in pinned:
        assert got["version"] == pinned["version"]


def test_file_is_complete() -> None:
    assert len(VECTORS) == 119
    assert len(BY_ID) == 119
    assert "attribution" in DATA and DATA["sources"]


@pytest.mark.parametrize(
    "vid", [v["id"] for v in VECTORS if v["strictness"] == "spec" and not v.get("disputed")]
)
def test_spec_vectors_pass(vid: str, results: dict[str, dict[str, Any]]) -> None:
    assert problems(BY_ID[vid], results[vid]) == []


@pytest.mark.parametrize(
    "vid", [v["id"] for v in VECTORS if v["strictness"] != "spec" and not v.get("disputed")]
)
def test_tolerances_pass_or_are_refused(vid: str, results: dict[str, dict[str, Any]]) -> None:
    found = problems(BY_ID[vid], results[vid])
    if vid in REFUSED:
        assert found, f"{vid} passes now: take it off REFUSED and docs/cef.md"
        check_pinned(results[vid], REFUSED[vid])
    else:
        assert found == []


def test_every_dispute_is_decided() -> None:
    disputed = {v["id"] for v in VECTORS if v.get("disputed")}
    assert disputed == FOLLOWED | set(NOT_FOLLOWED)
    assert not FOLLOWED & set(NOT_FOLLOWED)
    # each vector not followed has a partner that is followed
    for vid in NOT_FOLLOWED:
        assert set(BY_ID[vid]["dispute_with"]) & FOLLOWED, vid


@pytest.mark.parametrize("vid", sorted(FOLLOWED))
def test_disputed_followed(vid: str, results: dict[str, dict[str, Any]]) -> None:
    assert problems(BY_ID[vid], results[vid]) == []


@pytest.mark.parametrize("vid", sorted(NOT_FOLLOWED))
def test_disputed_not_followed(vid: str, results: dict[str, dict[str, Any]]) -> None:
    assert problems(BY_ID[vid], results[vid])
    check_pinned(results[vid], NOT_FOLLOWED[vid])


def test_pass_counts(results: dict[str, dict[str, Any]]) -> None:
    tally: Counter[tuple[str, bool, bool]] = Counter()
    for v in VECTORS:
        tally[(v["strictness"], bool(v.get("disputed")), not problems(v, results[v["id"]]))] += 1
    assert dict(tally) == {
        ("spec", False, True): 68,
        ("lenient", False, True): 12,
        ("lenient", False, False): 9,
        ("peer-specific", False, False): 1,
        ("spec", True, True): 7,
        ("spec", True, False): 5,
        ("lenient", True, True): 8,
        ("lenient", True, False): 6,
        ("peer-specific", True, False): 3,
    }


def test_docs_name_every_decision() -> None:
    text = (ROOT / "docs" / "cef.md").read_text(encoding="utf-8")
    missing = [vid for vid in [*REFUSED, *FOLLOWED, *NOT_FOLLOWED] if f"`{vid}`" not in text]
    assert missing == []
