"""Sniffing containers and log formats from content."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from auditlab.io.detect import sniff_container, sniff_format

CEF = b"CEF:0|ReversingLabs|Spectra Assure Portal|1.0|login|User login|3|suser=a@example.com"

FORMAT_CASES = [
    # NDJSON
    ('{"action": "login"}\n', "ndjson"),
    ('{"a":1}', "ndjson"),
    ('  \t{"a": 1}', "ndjson"),
    ('\n\n\r\n  \n{"a": 1}\n', "ndjson"),
    ('\ufeff{"a": 1}\n', "ndjson"),
    ('\ufeff\r\n\r\n{"a": 1}\r\n', "ndjson"),
    ('{"truncated head without newline', "ndjson"),
    ('{"msg": "CEF:0|a|b|c|d|e|f|"}', "ndjson"),
    # CEF, bare
    (CEF.decode(), "cef"),
    ("\n   " + CEF.decode(), "cef"),
    ("\ufeff" + CEF.decode(), "cef"),
    ("CEF:", "cef"),
    # CEF behind syslog prefixes (RFC 3164, RFC 5424, bare timestamp + host, tags)
    ("<134>" + CEF.decode(), "cef"),
    ("<13>Sep 29 08:26:10 host " + CEF.decode(), "cef"),
    ("Sep 29 08:26:10 host " + CEF.decode(), "cef"),
    ("Sep  2 17:50:25 172.30.0.130 ASM:" + CEF.decode(), "cef"),
    ("<132>Nov 13 13:17:41 " + CEF.decode(), "cef"),
    ("<134>1 2024-09-13T12:23:43.288000+02:00 portal app 1234 msgid - " + CEF.decode(), "cef"),
    ('<165>1 2024-09-13T12:23:43Z host app - ID47 [ex@32473 iut="3"] ' + CEF.decode(), "cef"),
    ("2026-09-03T16:35:24Z host-CEF:1-box " + CEF.decode(), "cef"),
    ("1493141029000 hostname.example.com " + CEF.decode(), "cef"),
    ("Apr 25 16:22:51.346 UTC hostname.example.com " + CEF.decode(), "cef"),
    ("Syslogdate Sysloghost " + CEF.decode(), "cef"),
    ("ASM:" + CEF.decode(), "cef"),
    # unknown
    ("", "unknown"),
    ("\n\n  \r\n", "unknown"),
    ("\ufeff", "unknown"),
    ('[{"a": 1}]', "unknown"),
    ("timestamp,action,user\n2024-01-01,login,a\n", "unknown"),
    ("hello world!", "unknown"),
    ("this is not cef", "unknown"),
    ("a|b|c with several \\| escaped\\| pipes|d|bananas", "unknown"),
    ("cef:0|lower|case|1|2|3|4|", "unknown"),
    ("x|y CEF:0|a|b|c|d|e|f|", "unknown"),  # a pipe before the header: not a syslog prefix
    ("<xml/>", "unknown"),
    ('second line is JSON\n{"a": 1}', "ndjson"),
    ('null\n[1]\n{"a": 1}\n{"a": 2}', "ndjson"),
    ("{junk\nCEF:0|a|b|c|d|e|1|x=1\nCEF:0|a|b|c|d|e|1|x=2", "cef"),  # most recognised lines win
    (
        'CEF:0|a|b|c|d|e|1|x=1\n{"a": 1}',
        "cef",
    ),  # a tie: the earlier format  # the recognised lines of the head vote: junk first lines do not hide a log
    ("A" * 2000 + " " + CEF.decode(), "unknown"),  # header too far into the line
]


@pytest.mark.parametrize(("text", "expected"), FORMAT_CASES)
def test_sniff_format(text: str, expected: str) -> None:
    assert sniff_format(text.encode("utf-8")) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'\xff\xfe{\x00"\x00', "unknown"),  # UTF-16 is not read
        (b"\x00\x01\x02\x03binary", "unknown"),
        (b"\x1f\x8b\x08\x00", "unknown"),  # still compressed: the caller decompresses first
        (b"\xef\xbb\xbf\xef\xbb\xbf{", "unknown"),  # only one BOM is stripped
    ],
)
def test_sniff_format_binary(head: bytes, expected: str) -> None:
    assert sniff_format(head) == expected


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.ndjson", b"{}\n")
    return buf.getvalue()


def _empty_zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w"):
        pass
    return buf.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (_zip_bytes(), "zip"),
        (_empty_zip_bytes(), "zip"),
        (gzip.compress(b"{}\n"), "gzip"),
        (b"\x1f\x8b", "gzip"),
        (b"\x1f", "plain"),
        (b"PK\x03", "plain"),
        (b"PK\x01\x02", "plain"),  # a central directory alone is not an archive start
        (b"", "plain"),
        (b'{"a": 1}', "plain"),
        (CEF, "plain"),
    ],
)
def test_sniff_container(head: bytes, expected: str) -> None:
    assert sniff_container(head) == expected
