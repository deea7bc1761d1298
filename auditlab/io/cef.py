"""CEF (ArcSight Common Event Format): read lines in bulk, write events.

Reading lives in :mod:`auditlab.io.cef_read`, writing in :mod:`auditlab.io.cef_write`; this
module is their public face. ``docs/cef.md`` documents the grammar accepted, the decisions on
disputed inputs (with conformance vector ids) and the mapping the writer uses.

Examples:
    >>> import pyarrow as pa
    >>> parse_cef_raw([r"CEF:0|RL|Portal|1|user.login|User login|3|suser=a@b.c msg=x\\=y"])[0]["extensions"]
    {'suser': 'a@b.c', 'msg': 'x=y'}
"""

from __future__ import annotations

from auditlab.io.cef_read import HEADER_KEYS, RESERVED_KEYS, SLOT_FAMILIES, parse_cef, parse_cef_raw
from auditlab.io.cef_write import CUSTOM_STRINGS, EXACT_TIMESTAMP, STANDARD_KEYS, severity, write_cef

__all__ = [
    "CUSTOM_STRINGS",
    "EXACT_TIMESTAMP",
    "HEADER_KEYS",
    "RESERVED_KEYS",
    "SLOT_FAMILIES",
    "STANDARD_KEYS",
    "parse_cef",
    "parse_cef_raw",
    "severity",
    "write_cef",
]
