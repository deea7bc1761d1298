"""JSON for queries: what exports write into their manifest and notebooks save.

Shape (``version`` 1)::

    {"version": 1,
     "conditions": [{"field": "action", "op": "is_any", "values": ["user.login"]}],
     "time_range": {"preset": "custom", "start": "2026-10-01T00:00:00Z", "end": null},
     "allow_unknown_actions": false}

Examples:
    >>> from auditlab.filters.model import Condition, Query
    >>> q = Query([Condition("outcome", "is", "failure")], "7d")
    >>> query_to_json(q)
    '{"version": 1, "conditions": [{"field": "outcome", "op": "is", "values": ["failure"]}], "time_range": {"preset": "7d", "start": null, "end": null}, "allow_unknown_actions": false}'
    >>> query_from_json(query_to_json(q)) == q
    True
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from auditlab.errors import QueryError
from auditlab.filters.model import Condition, Query, TimeRange, format_datetime

__all__ = ["FORMAT_VERSION", "query_from_dict", "query_from_json", "query_to_dict", "query_to_json"]

FORMAT_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def query_to_dict(query: Query) -> dict[str, Any]:
    """A JSON-ready dict; the canonical field names and API operator words."""
    tr = query.time_range
    return {
        "version": FORMAT_VERSION,
        "conditions": [
            {"field": c.field, "op": c.op.value, "values": list(c.values)} for c in query.conditions
        ],
        "time_range": {"preset": tr.preset, "start": _iso(tr.start), "end": _iso(tr.end)},
        "allow_unknown_actions": query.allow_unknown_actions,
    }


def query_to_json(query: Query, *, indent: int | None = None) -> str:
    """The JSON text of :func:`query_to_dict`."""
    return json.dumps(query_to_dict(query), indent=indent, ensure_ascii=False)


def query_from_dict(data: Any) -> Query:
    """A :class:`Query` from :func:`query_to_dict` output. Missing keys take their defaults.

    Raises:
        QueryError: not that shape, or an invalid query.
    """
    if not isinstance(data, dict):
        raise QueryError(f"a query must be a JSON object, got {type(data).__name__}")
    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise QueryError(f"unsupported query format version {version!r}")
    unknown = set(data) - {"version", "conditions", "time_range", "allow_unknown_actions"}
    if unknown:
        raise QueryError(f"unknown query keys: {', '.join(sorted(unknown))}")
    conditions = []
    raw_conditions = data.get("conditions", [])
    if not isinstance(raw_conditions, list):
        raise QueryError("'conditions' must be a list")
    for item in raw_conditions:
        if not isinstance(item, dict) or set(item) != {"field", "op", "values"}:
            raise QueryError(f"a condition needs exactly field, op and values: {item!r}")
        values = item["values"]
        if not isinstance(values, list):
            raise QueryError(f"condition values must be a list: {item!r}")
        if not isinstance(item["field"], str) or not isinstance(item["op"], str):
            raise QueryError(f"condition field and op must be strings: {item!r}")
        conditions.append(Condition(item["field"], item["op"], values))
    raw_range = data.get("time_range") or {}
    if not isinstance(raw_range, dict):
        raise QueryError("'time_range' must be an object")
    time_range = TimeRange(raw_range.get("preset"), start=raw_range.get("start"), end=raw_range.get("end"))
    allow = data.get("allow_unknown_actions", False)
    if not isinstance(allow, bool):
        raise QueryError("'allow_unknown_actions' must be true or false")
    return Query(conditions, time_range, allow_unknown_actions=allow)


def query_from_json(text: str | bytes) -> Query:
    """A :class:`Query` from JSON text.

    Raises:
        QueryError: not JSON, or not a valid query.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise QueryError(f"query JSON does not parse: {exc}") from None
    return query_from_dict(data)
