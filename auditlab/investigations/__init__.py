"""The canned investigations: failed logins, PAT revocations, SSO changes, quota spending.

Each investigation is one function ``name(ws, *, query=None, **thresholds) -> InvestigationResult``
in its own module of the same name. :data:`INVESTIGATIONS` is the one registry (name ->
``"module:function"``); the modules are imported only when an investigation is first used, so
``import auditlab.investigations`` stays light. Adding an investigation is one module and one row here.

The functions are public as ``auditlab.failed_logins`` etc.; ``auditlab.investigations.failed_logins``
is the module (a package's attribute named like its submodule is the submodule, in Python).

Examples:
    >>> list(INVESTIGATIONS)
    ['failed_logins', 'pat_revocations', 'sso_changes', 'quota_spending']
    >>> get_investigation("failed_logins").__name__
    'failed_logins'
    >>> get_investigation("lateral_movement")
    Traceback (most recent call last):
    ...
    auditlab.errors.QueryError: unknown investigation 'lateral_movement'; known: failed_logins, pat_revocations, sso_changes, quota_spending
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError
from auditlab.investigations._result import SEVERITIES, Finding, InvestigationResult

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from auditlab.filters.model import Query
    from auditlab.store.events import EventSet

__all__ = [
    "EVIDENCE_COLUMNS",
    "INVESTIGATIONS",
    "SEVERITIES",
    "Finding",
    "InvestigationResult",
    "all_findings",
    "evidence",
    "get_investigation",
    "run_all",
]

#: investigation name -> ``"module:function"``, in report order. The one registry.
INVESTIGATIONS: dict[str, str] = {
    "failed_logins": "auditlab.investigations.failed_logins:failed_logins",
    "pat_revocations": "auditlab.investigations.pat_revocations:pat_revocations",
    "sso_changes": "auditlab.investigations.sso_changes:sso_changes",
    "quota_spending": "auditlab.investigations.quota_spending:quota_spending",
}

Investigation = Callable[..., InvestigationResult]

#: The columns :func:`evidence` shows by default: what the Portal's table shows, plus the error and the id.
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "timestamp", "action", "outcome", "user_email", "auth_context", "ip_address",
    "resource_type", "resource_name", "error_message", "event_id",
)  # fmt: skip


def get_investigation(name: str) -> Investigation:
    """The investigation function registered as ``name`` (its module is imported now).

    Raises:
        QueryError: no investigation has that name.
    """
    target = INVESTIGATIONS.get(name)
    if target is None:
        raise QueryError(f"unknown investigation {name!r}; known: {', '.join(INVESTIGATIONS)}")
    module, attr = target.split(":")
    function: Investigation = getattr(import_module(module), attr)
    return function


def run_all(
    ws: EventSet,
    *,
    query: Query | str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    names: Iterable[str] | None = None,
) -> list[InvestigationResult]:
    """Run every registered investigation (or ``names``) over the same scope.

    Args:
        ws: the workspace or store.
        query: the scope, a :class:`~auditlab.Query` or its text form; ``None``: all events.
        params: per investigation, keyword thresholds, e.g. ``{"failed_logins": {"brute_force_threshold": 3}}``.
        names: which investigations, in this order (default: all, in registry order).

    Returns:
        One :class:`InvestigationResult` per investigation, in order.

    Raises:
        QueryError: an unknown name in ``names`` or ``params``.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> [r.name for r in run_all(ws, names=["sso_changes", "failed_logins"])]
        ['sso_changes', 'failed_logins']
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(INVESTIGATIONS))
    if unknown:
        raise QueryError(f"unknown investigation {unknown[0]!r}; known: {', '.join(INVESTIGATIONS)}")
    chosen = list(INVESTIGATIONS) if names is None else list(names)
    functions = [(name, get_investigation(name)) for name in chosen]  # fail on a bad name before running
    return [function(ws, query=query, **params.get(name, {})) for name, function in functions]


def all_findings(results: Iterable[InvestigationResult]) -> list[Finding]:
    """Every finding of ``results``, most severe first, then by first seen, then by investigation.

    Examples:
        >>> from datetime import datetime, UTC
        >>> t = datetime(2026, 10, 1, tzinfo=UTC)
        >>> a = Finding("a", "low", None, "A", {}, t, t, 1)
        >>> b = Finding("b", "high", None, "B", {}, t, t, 1)
        >>> [f.title for f in all_findings([InvestigationResult("x", "X", {}, [a, b])])]
        ['B', 'A']
    """
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found = [f for r in results for f in r.findings]
    return sorted(found, key=lambda f: (-rank.get(f.severity, -1), f.first_seen, f.investigation, f.title))


def evidence(ws: EventSet, finding: Finding, *, columns: Sequence[str] = EVIDENCE_COLUMNS) -> pl.DataFrame:
    """The evidence events of a finding, oldest first (``timestamp, event_id``).

    Args:
        ws: the workspace the finding came from.
        finding: the finding; its ``event_ids`` are looked up (as one bound parameter).
        columns: canonical columns to show (see :mod:`auditlab.schema`).

    Raises:
        QueryError: a column that is not canonical.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> brute_force = auditlab.failed_logins(ws).findings[1]
        >>> frame = evidence(ws, brute_force, columns=["outcome", "user_email", "ip_address"])
        >>> frame.height == brute_force.count, frame.unique().rows()
        (True, [('failure', 'ext.zoe.bauer@acme.example', '203.0.113.45')])
    """
    from auditlab.schema import COLUMNS

    unknown = [c for c in columns if c not in COLUMNS]
    if unknown or not columns:
        raise QueryError(f"not a canonical column: {unknown[0] if unknown else '(none given)'}")
    select = ", ".join(f'"{c}"' for c in columns)
    sql = f"SELECT {select} FROM events WHERE list_contains(?, event_id) ORDER BY timestamp, event_id"  # noqa: S608
    frame: pl.DataFrame = ws.con.sql(sql, params=[list(finding.event_ids)]).pl()
    return frame
