"""Data exports: bursts of report and profile configuration exports by one user (T1530).

The whole investigation is one declared detection, :data:`~auditlab.investigations.detections.EXPORT_BURST`:
the example of adding a detection as data (see ``docs/detections.md``).

Examples:
    >>> import auditlab
    >>> ws = auditlab.load("data/samples/portal_audit_export.zip")
    >>> data_exports(ws).findings, len(data_exports(ws, burst_exports=5).findings)
    ([], 1)
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING

from auditlab.investigations._common import as_count, as_window
from auditlab.investigations.detection import run_detections
from auditlab.investigations.detections import EXPORT_BURST

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.filters.model import Query
    from auditlab.investigations._common import Scope
    from auditlab.investigations._result import InvestigationResult
    from auditlab.store.events import EventSet

__all__ = ["data_exports"]

NAME = "data_exports"


def data_exports(
    ws: EventSet,
    *,
    query: Query | str | Scope | None = None,
    burst_exports: int = 20,
    burst_window: timedelta | str = timedelta(minutes=10),
) -> InvestigationResult:
    """Find users exporting many reports or profile configurations in a short time.

    Args:
        ws: the workspace or store.
        query: the scope (see the scope rule in :mod:`auditlab.investigations._common`); default all events.
        burst_exports: default 20: people export a report or two while they work; the busiest person
            in the sample exports 5 in 10 minutes, CI accounts export one report per build.
        burst_window: default 10 minutes.

    Returns:
        An :class:`InvestigationResult` named ``data_exports`` (findings only, no tables).

    Raises:
        QueryError: a bad query or threshold.
    """
    det = dataclasses.replace(
        EXPORT_BURST,
        threshold=as_count(burst_exports, "burst_exports"),
        window=as_window(burst_window, "burst_window"),
    )
    result: InvestigationResult = run_detections(
        ws, [det], query=query, name=NAME, title="Report and profile exports"
    )
    result.parameters.update({"burst_exports": det.threshold, "burst_window": det.window})
    return result
