"""Sniff what bytes hold: the container (ZIP, gzip, plain) and the log format (NDJSON, CEF).

Content decides, never the file name. Both functions look only at the first bytes.

Examples:
    >>> sniff_container(b"PK\\x03\\x04...")
    'zip'
    >>> sniff_format(b'\\xef\\xbb\\xbf\\n  {"action": "login"}\\n')
    'ndjson'
    >>> sniff_format(b"<134>Sep 29 08:26:10 host CEF:0|RL|Portal|1|login|Login|3|")
    'cef'
    >>> sniff_format(b"timestamp,action\\n")
    'unknown'
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["BOM", "Container", "Format", "sniff_container", "sniff_format"]

Container = Literal["zip", "gzip", "plain"]
Format = Literal["ndjson", "cef", "unknown"]

#: The UTF-8 byte order mark.
BOM = b"\xef\xbb\xbf"

_GZIP_MAGIC = b"\x1f\x8b"
# A local file header, or the end record alone (an empty archive).
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")

# How far into the first line "CEF:" is looked for behind a syslog prefix.
_PREFIX_MAX = 1024

# "CEF:" then a version and the first header separator, e.g. "CEF:0|".
_CEF_HEADER = re.compile(rb"CEF:\s*\d{1,3}\|")
_BLANK = b" \t\r\n\f\v"


def sniff_container(head: bytes) -> Container:
    """Say whether bytes start a ZIP archive, a gzip stream or plain content.

    Args:
        head: the first bytes of a file or member (four are enough).

    Returns:
        ``"zip"`` (``PK\\x03\\x04``, or ``PK\\x05\\x06`` for an empty archive),
        ``"gzip"`` (``1f 8b``) or ``"plain"``.

    Examples:
        >>> sniff_container(b"\\x1f\\x8b\\x08\\x00")
        'gzip'
        >>> sniff_container(b'{"a": 1}')
        'plain'
    """
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    return "plain"


def _first_line(head: bytes) -> bytes:
    """The first line holding more than whitespace, stripped on the left (BOM removed)."""
    if head.startswith(BOM):
        head = head[len(BOM) :]
    start = len(head) - len(head.lstrip(_BLANK))
    end = head.find(b"\n", start)
    return head[start:] if end < 0 else head[start:end]


def sniff_format(head: bytes) -> Format:
    """Guess the log format from the first non-blank line of ``head``.

    Rules: after an optional UTF-8 BOM and whitespace (blank lines included), a line starting
    with ``{`` is NDJSON; a line starting with ``CEF:`` is CEF; so is a line with
    ``CEF:<version>|`` within its first 1024 bytes behind a prefix free of ``{`` and ``|``:
    a syslog header (``<PRI>`` of RFC 5424/3164, a timestamp, a host, a tag such as ``ASM:``),
    as the CEF parsers of Beats and Logstash accept. Anything else is ``"unknown"``, including
    empty input, JSON arrays, CSV, UTF-16 and binary data.

    Args:
        head: the first bytes of a decompressed member (64 KiB is plenty; a cut line is fine).

    Returns:
        ``"ndjson"``, ``"cef"`` or ``"unknown"``.

    Examples:
        >>> sniff_format(b"\\n\\r\\n CEF:0|RL|Portal|1.0|100|Login|3|suser=a")
        'cef'
        >>> sniff_format(b"<134>1 2024-09-13T12:23:43Z host app 12 id - CEF:0|RL|P|1|1|n|1|")
        'cef'
        >>> sniff_format(b"[{}]"), sniff_format(b"")
        ('unknown', 'unknown')
    """
    line = _first_line(head)
    if line.startswith(b"{"):
        return "ndjson"
    if line.startswith(b"CEF:"):
        return "cef"
    window = line[:_PREFIX_MAX]
    found = _CEF_HEADER.search(window)
    if found and not any(c in window[: found.start()] for c in (b"{", b"|")):
        return "cef"
    return "unknown"
