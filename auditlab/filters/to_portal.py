"""Split a query into what the Portal API filters server-side and what must run locally.

The API (DESIGN §2) filters on ``action``, ``outcome``, ``auth_context``, ``resource_type``,
``group_id``, ``request_id``, ``resource_id``, ``user_id`` and ``user_email``; ``action`` and
``resource_type`` take all four operators, ``group_id`` ``is``/``is_any``, the others ``is`` only,
each field at most once. What the API cannot take is returned as a residual query, never dropped.

Examples:
    >>> from auditlab.filters.model import Query
    >>> q = Query.parse("action is_any user.login,user.logout; outcome is failure; "
    ...                 "ip_address is 10.0.0.1; outcome is_not success; since 7d")
    >>> filters, residual = to_portal_filters(q)
    >>> filters[1]
    {'filter_by': 'outcome', 'operation': 'is', 'values': ['unsuccessful']}
    >>> residual.to_text()
    'ip_address is 10.0.0.1; outcome is_not success; since 7d'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TypedDict

from auditlab.filters.fields import FIELDS
from auditlab.filters.model import Op, Query, format_datetime

__all__ = ["NAME_TO_ID", "PortalFilter", "to_portal_filters", "to_portal_range"]


class PortalFilter(TypedDict):
    """One filter of the Portal API's export request."""

    filter_by: str
    operation: str
    values: list[str]


#: name field -> the API id field it can be pushed down as, when the caller knows the ids.
NAME_TO_ID: dict[str, str] = {"group_name": "group_id", "resource_name": "resource_id"}


def _api_filter(field: str, op: Op, values: Sequence[str]) -> PortalFilter:
    spec = FIELDS[field]
    return {
        "filter_by": field,
        "operation": op.value,
        "values": [spec.api_values.get(v, v) for v in values],
    }


def to_portal_filters(
    query: Query, *, ids: Mapping[str, Mapping[str, Sequence[str]]] | None = None
) -> tuple[list[PortalFilter], Query]:
    """(API filters, residual query). Fetch with the filters, then apply the residual locally.

    Args:
        query: the query.
        ids: known ids by name, e.g. ``{"group_name": {"Team A": ["17"]}}``. A positive
            ``group_name``/``resource_name`` condition whose names all have known ids is also
            sent as a ``group_id``/``resource_id`` filter (the name condition stays in the residual,
            since ids outlive renames).

    Returns:
        The API filters (in the API's words and values) and the residual :class:`Query`: the
        conditions the API cannot apply, plus the Target Type conditions a residual Target Name
        needs, with the same time range (re-applying it locally is harmless).

    Examples:
        >>> q = Query.parse("resource_type is group; resource_name is Team A; all time")
        >>> to_portal_filters(q, ids={"resource_name": {"Team A": ["17"]}})[0][1]
        {'filter_by': 'resource_id', 'operation': 'is', 'values': ['17']}
    """
    pushed: dict[str, PortalFilter] = {}
    local: list[int] = []  # indexes of the conditions the API does not apply
    for i, cond in enumerate(query.conditions):
        if cond.op in FIELDS[cond.field].api_ops and cond.field not in pushed:
            pushed[cond.field] = _api_filter(cond.field, cond.op, cond.values)
        else:
            local.append(i)
    for i in local:
        cond = query.conditions[i]
        id_field = NAME_TO_ID.get(cond.field)
        known = (ids or {}).get(cond.field, {})
        if id_field is None or id_field in pushed or cond.op.negated:
            continue
        if not all(v in known and known[v] for v in cond.values):
            continue
        id_values = list(dict.fromkeys(i for v in cond.values for i in known[v]))
        op = Op.IS if len(id_values) == 1 else Op.IS_ANY
        if op in FIELDS[id_field].api_ops:
            pushed[id_field] = _api_filter(id_field, op, id_values)
    in_residual = {query.conditions[i].field for i in local}
    needed = {FIELDS[f].requires for f in in_residual} - {None} - in_residual
    kept = [c for i, c in enumerate(query.conditions) if i in local or c.field in needed]
    rest = Query(kept, query.time_range, allow_unknown_actions=query.allow_unknown_actions)
    return list(pushed.values()), rest


def to_portal_range(query: Query, *, anchor: datetime | None = None) -> dict[str, str]:
    """The API's ``datetime_start``/``datetime_end`` (start inclusive, end exclusive).

    A side the range leaves open is omitted (``all`` gives ``{}``); a preset ends at ``anchor``
    (``None``: now). The 365-day API limit is reported by :attr:`Query.portal_warnings`, not enforced.

    Examples:
        >>> from datetime import UTC, datetime
        >>> to_portal_range(Query.parse("since 24h"), anchor=datetime(2026, 10, 2, tzinfo=UTC))
        {'datetime_start': '2026-10-01T00:00:00Z', 'datetime_end': '2026-10-02T00:00:00Z'}
    """
    start, end = query.time_range.bounds(anchor)
    out: dict[str, str] = {}
    if start is not None:
        out["datetime_start"] = format_datetime(start)
    if end is not None:
        out["datetime_end"] = format_datetime(end)
    return out
