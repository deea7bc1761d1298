"""The canned investigations: failed logins, PAT revocations, SSO changes, quota spending, data exports.

Each investigation is one function ``name(ws, *, query=None, **thresholds) -> InvestigationResult``
in its own module of the same name. :data:`INVESTIGATIONS` is the one registry (name ->
``"module:function"``); the modules are imported only when an investigation is first used, so
``import auditlab.investigations`` stays light. Their detections are declared as data where they can
be (:mod:`.detections`, the form in :mod:`.detection`); adding a detection is one declaration, and
users add their own as rule files (``run_all(ws, rules="rules/")``, ``auditlab investigate --rules``).

The functions are public as ``auditlab.failed_logins`` etc.; ``auditlab.investigations.failed_logins``
is the module (a package's attribute named like its submodule is the submodule, in Python).

Examples:
    >>> list(INVESTIGATIONS)
    ['failed_logins', 'pat_revocations', 'sso_changes', 'quota_spending', 'data_exports']
    >>> get_investigation("failed_logins").__name__
    'failed_logins'
    >>> get_investigation("lateral_movement")
    Traceback (most recent call last):
    ...
    auditlab.errors.QueryError: unknown investigation 'lateral_movement'; known: failed_logins, pat_revocations, sso_changes, quota_spending, data_exports
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from auditlab.errors import QueryError
from auditlab.investigations._result import SEVERITIES, Finding, InvestigationResult, sort_findings

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from auditlab._types import PathLike
    from auditlab.filters.model import Query
    from auditlab.investigations.detection import Detection
    from auditlab.store.events import EventSet

__all__ = [
    "EVIDENCE_COLUMNS",
    "INVESTIGATIONS",
    "RULES_RESULT",
    "SEVERITIES",
    "Finding",
    "InvestigationResult",
    "all_findings",
    "evidence",
    "get_investigation",
    "iter_results",
    "run_all",
]

#: investigation name -> ``"module:function"``, in report order. The one registry.
INVESTIGATIONS: dict[str, str] = {
    "failed_logins": "auditlab.investigations.failed_logins:failed_logins",
    "pat_revocations": "auditlab.investigations.pat_revocations:pat_revocations",
    "sso_changes": "auditlab.investigations.sso_changes:sso_changes",
    "quota_spending": "auditlab.investigations.quota_spending:quota_spending",
    "data_exports": "auditlab.investigations.data_exports:data_exports",
}
#: The name of the result that holds the findings of the user's rules (``run_all(ws, rules=...)``).
RULES_RESULT = "rules"

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
    rules: PathLike | Iterable[Detection] | None = None,
) -> list[InvestigationResult]:
    """Run every registered investigation (or ``names``), and the user's rules, over one scope.

    The scope is defined once and shared by every investigation. Every result is held at once;
    :func:`iter_results` gives them one at a time (memory for one result, on a big store).

    Args:
        ws: the workspace or store.
        query: the scope, a :class:`~auditlab.Query` or its text form; ``None``: all events.
        params: per investigation, keyword thresholds, e.g. ``{"failed_logins": {"brute_force_threshold": 3}}``.
        names: which investigations, in this order (default: all, in registry order).
        rules: the user's own detections: a rule file or folder of YAML/TOML files in the declared form
            (see :func:`~auditlab.investigations.detection.load_rules`), or :class:`Detection` objects;
            their findings come last, as one result named ``rules``.

    Returns:
        One :class:`InvestigationResult` per investigation, in order (then ``rules``).

    Raises:
        QueryError: an unknown name in ``names`` or ``params``; a bad rule file (naming file and field).

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> [r.name for r in run_all(ws, names=["sso_changes", "failed_logins"])]
        ['sso_changes', 'failed_logins']
    """
    return list(iter_results(ws, query=query, params=params, names=names, rules=rules))


def iter_results(
    ws: EventSet,
    *,
    query: Query | str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    names: Iterable[str] | None = None,
    rules: PathLike | Iterable[Detection] | None = None,
) -> Iterator[InvestigationResult]:
    """:func:`run_all`, one result at a time: each investigation runs when the next result is asked for.

    Names, parameters and rules are checked at the call, before anything runs (the errors of
    :func:`run_all`). A caller that drops each result before asking for the next holds one result
    in memory, whatever the number of findings of the others.

    Examples:
        >>> import auditlab
        >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
        >>> results = iter_results(ws, names=["quota_spending", "data_exports"])
        >>> [(r.name, len(r.findings) > 0) for r in results]
        [('quota_spending', True), ('data_exports', False)]
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(INVESTIGATIONS))
    if unknown:
        raise QueryError(f"unknown investigation {unknown[0]!r}; known: {', '.join(INVESTIGATIONS)}")
    chosen = list(INVESTIGATIONS) if names is None else list(names)
    functions = [(name, get_investigation(name)) for name in chosen]  # fail on a bad name before running
    from auditlab.investigations._common import Scope, scope_query
    from auditlab.investigations.detection import load_rules, run_detections

    declared = None
    if rules is not None:  # read and check the rules before running anything
        declared = load_rules(rules) if isinstance(rules, (str, os.PathLike)) else list(rules)
    scoped = scope_query(query)  # a bad query fails now, not at the first result

    def results() -> Iterator[InvestigationResult]:
        with Scope(ws, scoped) as scope:
            for name, function in functions:
                yield function(ws, query=scope, **params.get(name, {}))
            if declared is not None:
                yield run_detections(ws, declared, query=scope, name=RULES_RESULT, title="User rules")

    return results()


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
    return sort_findings(f for r in results for f in r.findings)


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
    sql = f"SELECT {select} FROM events WHERE list_contains($ids, event_id) ORDER BY timestamp, event_id"  # noqa: S608
    frame: pl.DataFrame = ws.con.sql(sql, params={"ids": list(finding.event_ids)}).pl()
    return frame
