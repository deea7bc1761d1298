"""A first look at a workspace: how many events, over what span, by action, outcome and day.

Examples:
    >>> from auditlab import load
    >>> s = load("data/samples/portal_audit_export.zip").summary()
    >>> s.events == sum(s.by_outcome.values())
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditlab.store.events import EventSet

__all__ = ["Summary", "summarize"]


@dataclass(frozen=True)
class Summary:
    """Counts over a workspace. ``by_action`` is the top actions, most frequent first."""

    events: int
    first: datetime | None
    last: datetime | None
    actions: int
    by_action: dict[str, int]
    by_outcome: dict[str, int]
    by_day: dict[str, int]
    quarantined: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps ISO 8601 UTC)."""
        return {
            "events": self.events,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "actions": self.actions,
            "by_action": self.by_action,
            "by_outcome": self.by_outcome,
            "by_day": self.by_day,
            "quarantined": self.quarantined,
        }

    def __str__(self) -> str:
        span = f"{self.first:%Y-%m-%d %H:%M:%S} .. {self.last:%Y-%m-%d %H:%M:%S} UTC" if self.first else "-"
        out = [f"events       {self.events}", f"time span    {span}", f"actions      {self.actions} distinct"]
        if self.quarantined:
            out.append(f"quarantined  {self.quarantined} lines")
        out.append("by outcome")
        out.extend(f"  {k:<40} {v:>8}" for k, v in self.by_outcome.items())
        out.append(f"top {len(self.by_action)} actions")
        out.extend(f"  {k:<40} {v:>8}" for k, v in self.by_action.items())
        out.append("per day")
        out.extend(f"  {k:<40} {v:>8}" for k, v in self.by_day.items())
        return "\n".join(out)


def summarize(ws: EventSet, *, top: int = 20) -> Summary:
    """Count a workspace's events by action, outcome and UTC day."""
    con = ws.con
    events, first, last, actions = con.execute(
        "SELECT count(*), min(timestamp), max(timestamp), count(DISTINCT action) FROM events"
    ).fetchall()[0]
    by_action = dict(
        con.execute(
            "SELECT action, count(*) n FROM events GROUP BY action ORDER BY n DESC, action LIMIT $top",
            {"top": top},
        ).fetchall()
    )
    by_outcome = dict(
        con.execute(
            "SELECT coalesce(outcome, '(none)') o, count(*) n FROM events GROUP BY o ORDER BY n DESC, o"
        ).fetchall()
    )
    by_day = {
        str(d): n
        for d, n in con.execute(
            "SELECT CAST(timestamp AS DATE) d, count(*) FROM events GROUP BY d ORDER BY d"
        ).fetchall()
    }
    (quarantined,) = con.execute("SELECT count(*) FROM quarantine").fetchall()[0]
    return Summary(int(events), first, last, int(actions), by_action, by_outcome, by_day, int(quarantined))
