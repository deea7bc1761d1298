"""What a load did: every input line is loaded, a duplicate, or quarantined. Nothing else.

Examples:
    >>> r = LoadReport(sources=[SourceReport("a.ndjson", "ndjson", lines=5, loaded=3, duplicates=1, quarantined=1)])
    >>> r.lines == r.loaded + r.duplicates + r.quarantined
    True
    >>> r.to_dict()["loaded"]
    3
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["LoadReport", "QuarantinedLine", "SourceReport"]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The accounting of one input (a file, or one member of a ZIP)."""

    source: str
    format: str
    lines: int
    loaded: int
    duplicates: int
    quarantined: int


@dataclass(frozen=True, slots=True)
class QuarantinedLine:
    """A line that could not be loaded: where, why, and its text (capped)."""

    source: str
    line: int
    reason: str
    text: str | None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class LoadReport:
    """The accounting of one load, per source and in total.

    ``lines == loaded + duplicates + quarantined`` always holds; blank lines are not counted.
    ``quarantine`` holds the first quarantined lines (all of them are kept in the workspace's
    ``quarantine`` table); ``skipped`` names inputs that hold no audit lines (e.g. a manifest).
    """

    sources: list[SourceReport] = field(default_factory=list)
    quarantine: list[QuarantinedLine] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.sources)

    @property
    def loaded(self) -> int:
        return sum(s.loaded for s in self.sources)

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.sources)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: totals, ``sources``, ``quarantine`` samples and ``skipped``."""
        return {
            "lines": self.lines,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "sources": [asdict(s) for s in self.sources],
            "quarantine": [asdict(q) for q in self.quarantine],
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
        }

    def __str__(self) -> str:
        head = (
            f"{self.lines} lines: {self.loaded} loaded, {self.duplicates} duplicates, "
            f"{self.quarantined} quarantined"
        )
        rows = [head]
        for s in self.sources:
            rows.append(
                f"  {s.source} [{s.format}]: {s.lines} lines, {s.loaded} loaded, "
                f"{s.duplicates} duplicates, {s.quarantined} quarantined"
            )
        rows.extend(f"  skipped {src}: {why}" for src, why in self.skipped)
        if self.quarantine:
            rows.append("quarantined lines (first ones):")
            rows.extend(f"  {q}" for q in self.quarantine[:20])
        return "\n".join(rows)
