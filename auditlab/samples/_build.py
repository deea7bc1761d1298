"""Assemble one sample: organisation, incidents, background, passes, records.

Every random choice comes from ``random.Random`` seeded with ``f"{seed}:<part>"`` (string
seeds hash with SHA-512, independent of ``PYTHONHASHSEED``), so a seed gives the same
bytes on every machine; the background does not shift when incidents are switched off.

Examples:
    >>> s = build_samples(seed=7, days=7, incidents=False)
    >>> s.start, s.end, s.incidents
    ('2026-10-25T00:00:00Z', '2026-11-01T00:00:00Z', [])
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from auditlab.errors import InputError
from auditlab.samples._background import background
from auditlab.samples._ctx import Ctx
from auditlab.samples._incidents import Incident, describe, plant
from auditlab.samples._model import DAY, iso, ms_of
from auditlab.samples._org import build_org
from auditlab.samples._passes import gate_failures, resolve_pats, resolve_quota, space_revocations, to_records

__all__ = ["DEFAULT_END", "MIN_DAYS", "SampleSet", "build_samples"]

#: End (exclusive) of the committed sample's period.
DEFAULT_END = "2026-11-01T00:00:00Z"
#: Shortest period that still holds working days, a Sunday and every incident.
MIN_DAYS = 7


@dataclass(frozen=True, slots=True)
class SampleSet:
    """A generated sample: the records (time order) and the planted incidents."""

    seed: int
    days: int
    start: str
    end: str
    records: list[dict[str, object]]
    incidents: list[Incident]


def build_samples(
    *, seed: int = 7, days: int = 30, end: str | datetime = DEFAULT_END, incidents: bool = True
) -> SampleSet:
    """Generate the sample in memory.

    Args:
        seed: the seed; the same seed gives the same records.
        days: length of the period, ending at ``end``.
        end: end of the period (exclusive), ISO 8601 or a datetime; must fall on midnight UTC.
        incidents: plant the incidents (False gives a control sample).

    Raises:
        InputError: ``days`` is below :data:`MIN_DAYS` or ``end`` is not midnight UTC.
    """
    if days < MIN_DAYS:
        raise InputError(f"days must be at least {MIN_DAYS}, got {days}")
    stop = ms_of(end)
    if stop % DAY:
        raise InputError(f"end must be midnight UTC, got {iso(stop)}")
    start = stop - days * DAY
    org = build_org(random.Random(f"{seed}:org"))
    ctx = Ctx(random.Random(f"{seed}:incidents"), org, start, stop)
    facts = plant(ctx) if incidents else {}
    planted, ctx.buf = ctx.buf, []
    ctx.rng = random.Random(f"{seed}:background")
    background(ctx)
    drafts = sorted(planted + ctx.buf, key=lambda d: (d.t, d.seq))
    drafts = [d for d in drafts if start <= d.t < stop]
    drafts = space_revocations(gate_failures(drafts))
    drafts = resolve_pats(drafts, org, random.Random(f"{seed}:pats"))
    drafts = resolve_quota(drafts, org, start, stop, ctx.quota_burst)
    records, ids = to_records(drafts, random.Random(f"{seed}:ids"))
    found = describe(drafts, ids, facts)
    return SampleSet(seed, days, iso(start)[:19] + "Z", iso(stop)[:19] + "Z", records, found)
