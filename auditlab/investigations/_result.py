"""What an investigation returns: findings an analyst acts on, the tables behind them, charts.

Examples:
    >>> from datetime import datetime, UTC
    >>> f = Finding("failed_logins", "high", "T1110.001", "Brute force against a@x",
    ...             {"user": ["a@x"], "ip": ["203.0.113.9"]},
    ...             datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 0, 9, tzinfo=UTC), 12, ("e1", "e2"))
    >>> f.to_dict()["technique"], f.to_dict()["first_seen"]
    ('T1110.001', '2026-10-01T00:00:00Z')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from auditlab._time import iso_time

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "SEVERITIES",
    "Finding",
    "InvestigationResult",
    "finding_of_rows",
    "severity_rank",
    "sort_findings",
]

#: Severity levels, least to most severe. The one order: :func:`severity_rank` and :func:`sort_findings`.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

_iso = iso_time  # the name report.py imports


def severity_rank(severity: str) -> int:
    """0 for ``info`` .. 4 for ``critical``; -1 for a name that is not a severity.

    Examples:
        >>> severity_rank("high"), severity_rank("urgent")
        (3, -1)
    """
    return _RANK.get(severity, -1)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by first seen, then by investigation and title (the one finding order)."""
    return sorted(
        findings, key=lambda f: (-severity_rank(f.severity), f.first_seen, f.investigation, f.title)
    )


@dataclass(frozen=True, slots=True)  # slots: a big store can give hundreds of thousands
class Finding:
    """One thing an analyst should look at.

    Attributes:
        investigation: the investigation's name (``failed_logins``, ...).
        severity: one of :data:`SEVERITIES`.
        technique: the MITRE ATT&CK technique id where one fits (``T1110.003``), else None.
        title: one line, naming the entities.
        entities: kind -> values, kinds among ``user``, ``ip``, ``token``, ``group``, ``project``.
        first_seen, last_seen: the span of the evidence (UTC).
        count: how many events are evidence.
        event_ids: the evidence events.
    """

    investigation: str
    severity: str
    technique: str | None
    title: str
    entities: dict[str, list[str]]
    first_seen: datetime
    last_seen: datetime
    count: int
    event_ids: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps ISO 8601 UTC with ``Z``)."""
        return {
            "investigation": self.investigation,
            "severity": self.severity,
            "technique": self.technique,
            "title": self.title,
            "entities": {k: list(v) for k, v in self.entities.items()},
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "count": self.count,
            "event_ids": list(self.event_ids),
        }


@dataclass
class InvestigationResult:
    """The findings, supporting tables and charts of one investigation run.

    Attributes:
        name: the registry name (``failed_logins``).
        title: a human title.
        parameters: the thresholds and time range used.
        findings: sorted most severe first, then by first_seen.
        tables: supporting tables (Polars DataFrames), by name.
        chart_builders: name -> a function building an Altair chart (altair is imported only then).
    """

    name: str
    title: str
    parameters: dict[str, Any]
    findings: list[Finding]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    chart_builders: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def charts(self) -> dict[str, Any]:
        """The Altair charts, built now; each displays as offline SVG (``charts.offline``)."""
        from auditlab.charts import offline

        return {name: offline(build()) for name, build in self.chart_builders.items()}

    def findings_frame(self) -> pl.DataFrame:
        """The findings as a small, deterministic table (no event ids), for notebooks and nbval."""
        import polars as pl

        rows = [
            {
                "severity": f.severity,
                "technique": f.technique or "",
                "title": f.title,
                "first_seen": _iso(f.first_seen),
                "last_seen": _iso(f.last_seen),
                "count": f.count,
            }
            for f in self.findings
        ]
        schema = {"severity": pl.String, "technique": pl.String, "title": pl.String,
                  "first_seen": pl.String, "last_seen": pl.String, "count": pl.Int64}  # fmt: skip
        return pl.DataFrame(rows, schema=schema)


def finding_of_rows(
    investigation: str,
    severity: str,
    technique: str | None,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    entities: Mapping[str, Iterable[str | None]],
) -> Finding:
    """A finding whose evidence is ``rows`` (each with ``event_id`` and ``timestamp``): span, count, ids by time.

    ``entities`` lists values per kind; missing values are dropped, the rest sorted and deduplicated.

    Examples:
        >>> from datetime import datetime, UTC
        >>> t = datetime(2026, 10, 1, tzinfo=UTC)
        >>> f = finding_of_rows("x", "low", None, "T", [{"event_id": "b", "timestamp": t},
        ...                     {"event_id": "a", "timestamp": t}], {"user": ["u", None, "u"]})
        >>> f.event_ids, f.entities, f.count
        (('a', 'b'), {'user': ['u']}, 2)
    """
    ordered = sorted(rows, key=lambda r: (r["timestamp"], r["event_id"]))
    return Finding(
        investigation,
        severity,
        technique,
        title,
        {kind: sorted({v for v in values if v}) for kind, values in entities.items()},
        ordered[0]["timestamp"],
        ordered[-1]["timestamp"],
        len(ordered),
        tuple(dict.fromkeys(r["event_id"] for r in ordered)),
    )
