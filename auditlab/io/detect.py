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


def _line_format(line: bytes) -> Format:
    """The format one line (stripped on the left) looks like."""
    if line.startswith(b"{"):
        return "ndjson"
    if line.startswith(b"CEF:"):
        return "cef"
    window = line[:_PREFIX_MAX]
    found = _CEF_HEADER.search(window)
    if found and not any(c in window[: found.start()] for c in (b"{", b"|")):
        return "cef"
    return "unknown"


#: How many non-blank lines of the head take part in the vote.
SNIFF_LINES = 64


def sniff_format(head: bytes) -> Format:
    """Guess the log format from the first non-blank lines of ``head``.

    Rules per line: after an optional UTF-8 BOM and whitespace, a line starting with ``{`` is
    NDJSON; a line starting with ``CEF:`` is CEF; so is a line with ``CEF:<version>|`` within its
    first 1024 bytes behind a prefix free of ``{`` and ``|``: a syslog header (``<PRI>`` of RFC
    5424/3164, a timestamp, a host, a tag such as ``ASM:``), as the CEF parsers of Beats and
    Logstash accept. The first :data:`SNIFF_LINES` non-blank lines vote; the format most of the
    recognised ones have wins (the earlier one on a tie), so a junk first line does not make a
    whole file unreadable. With no recognised line: ``"unknown"`` (empty input, JSON arrays, CSV,
    UTF-16, binary data).

    Args:
        head: the first bytes of a decompressed member (64 KiB is plenty; a cut line is fine).

    Returns:
        ``"ndjson"``, ``"cef"`` or ``"unknown"``.

    Examples:
        >>> sniff_format(b"\\n\\r\\n CEF:0|RL|Portal|1.0|100|Login|3|suser=a")
        'cef'
        >>> sniff_format(b"<134>1 2024-09-13T12:23:43Z host app 12 id - CEF:0|RL|P|1|1|n|1|")
        'cef'
        >>> sniff_format(b'null\\n{"a": 1}\\n{"a": 2}')
        'ndjson'
        >>> sniff_format(b"[{}]"), sniff_format(b"")
        ('unknown', 'unknown')
    """
    if head.startswith(BOM):
        head = head[len(BOM) :]
    votes: dict[Format, int] = {}
    seen = 0
    for raw in head.split(b"\n"):
        line = raw.lstrip(_BLANK)
        if not line:
            continue
        kind = _line_format(line)
        if kind != "unknown":
            votes[kind] = votes.get(kind, 0) + 1
        seen += 1
        if seen >= SNIFF_LINES:
            break
    if not votes:
        return "unknown"
    return max(votes, key=lambda k: votes[k])  # dicts keep order: the earlier format wins a tie
