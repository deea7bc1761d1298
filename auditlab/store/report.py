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

__all__ = ["IdCollision", "LoadReport", "QuarantinedLine", "SourceReport"]


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The accounting of one input (a file, or one member of a ZIP).

    ``id_collisions`` counts loaded events whose id was already held by another event (stored,
    or earlier in the load) with other content: they are kept under a derived id.
    """

    source: str
    format: str
    lines: int
    loaded: int
    duplicates: int
    quarantined: int
    id_collisions: int = 0


@dataclass(frozen=True, slots=True)
class QuarantinedLine:
    """A line that could not be loaded: where, why, and its text (capped)."""

    source: str
    line: int
    reason: str
    text: str | None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class IdCollision:
    """An event kept under a derived id: its id was taken by another event with other content."""

    source: str
    line: int
    given_id: str
    event_id: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: id {self.given_id!r} taken by another event; kept as {self.event_id!r}"


@dataclass(frozen=True)
class LoadReport:
    """The accounting of one load, per source and in total.

    ``lines == loaded + duplicates + quarantined`` always holds; blank lines are not counted.
    ``quarantine`` holds the first quarantined lines (all of them are kept in the workspace's
    ``quarantine`` table); ``skipped`` names inputs that hold no audit lines (e.g. a manifest);
    ``collisions`` the first events kept under a derived id (``id_collisions`` counts them all).
    """

    sources: list[SourceReport] = field(default_factory=list)
    quarantine: list[QuarantinedLine] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    collisions: list[IdCollision] = field(default_factory=list)

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

    @property
    def id_collisions(self) -> int:
        return sum(s.id_collisions for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: totals, ``sources``, ``quarantine`` samples and ``skipped``."""
        return {
            "lines": self.lines,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "id_collisions": self.id_collisions,
            "sources": [asdict(s) for s in self.sources],
            "quarantine": [asdict(q) for q in self.quarantine],
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
            "collisions": [asdict(c) for c in self.collisions],
        }

    def __str__(self) -> str:
        head = (
            f"{self.lines} lines: {self.loaded} loaded, {self.duplicates} duplicates, "
            f"{self.quarantined} quarantined"
        )
        if self.id_collisions:
            head += f", {self.id_collisions} id collisions"
        rows = [head]
        for s in self.sources:
            rows.append(
                f"  {s.source} [{s.format}]: {s.lines} lines, {s.loaded} loaded, "
                f"{s.duplicates} duplicates, {s.quarantined} quarantined"
                + (f", {s.id_collisions} id collisions" if s.id_collisions else "")
            )
        rows.extend(f"  skipped {src}: {why}" for src, why in self.skipped)
        if self.collisions:
            rows.append("id collisions (kept under a derived id; first ones):")
            rows.extend(f"  {c}" for c in self.collisions[:20])
        if self.quarantine:
            rows.append("quarantined lines (first ones):")
            rows.extend(f"  {q}" for q in self.quarantine[:20])
        return "\n".join(rows)
