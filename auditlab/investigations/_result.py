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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

__all__ = ["SEVERITIES", "Finding", "InvestigationResult"]

#: Severity levels, least to most severe.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond // 1000:03d}" if t.microsecond else "") + "Z"


@dataclass(frozen=True)
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
        """The Altair charts, built now."""
        return {name: build() for name, build in self.chart_builders.items()}

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
