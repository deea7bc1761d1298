"""Deterministic sample Portal audit exports, with planted incidents to find.

:func:`generate_samples` writes ``portal_audit_export.zip`` (NDJSON member
``audit_log.ndjson``) and, with incidents, ``incidents.json`` (the truth, machine-readable)
and ``README.md`` (the same truth for people). :func:`sample_records` and
:func:`build_samples` give the same data in memory. Plain Python: this is a generator, not
a data path.

Examples:
    >>> recs = sample_records(seed=7, days=7)
    >>> sorted(recs[0])[:4]
    ['action', 'auth_context', 'created_at', 'details']
    >>> recs == sample_records(seed=7, days=7)
    True
    >>> [i.id for i in build_samples(days=7).incidents][:2]
    ['INC-01-brute-force', 'INC-02-password-spray']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from auditlab._types import PathLike
from auditlab.samples._build import DEFAULT_END, MIN_DAYS, SampleSet, build_samples
from auditlab.samples._incidents import ATTACKER_IPS, SPECS, Incident
from auditlab.samples._render import EXPORT_NAME, FORMATS, incidents_json, readme_text, write_sample

__all__ = [
    "ATTACKER_IPS",
    "DEFAULT_END",
    "EXPORT_NAME",
    "FORMATS",
    "MIN_DAYS",
    "SPECS",
    "Incident",
    "SampleSet",
    "build_samples",
    "generate_samples",
    "incidents_json",
    "readme_text",
    "sample_records",
]


def sample_records(
    *, seed: int = 7, days: int = 30, end: str | datetime = DEFAULT_END, incidents: bool = True
) -> list[dict[str, object]]:
    """The sample's records in memory, in time order (the NDJSON lines as dicts).

    Examples:
        >>> r = sample_records(days=7, incidents=False)[0]
        >>> r["created_at"] >= "2026-10-25", r["outcome"] in ("successful", "unsuccessful")
        (True, True)
    """
    return build_samples(seed=seed, days=days, end=end, incidents=incidents).records


def generate_samples(
    out_dir: PathLike,
    *,
    seed: int = 7,
    days: int = 30,
    end: str | datetime = DEFAULT_END,
    incidents: bool = True,
    formats: Sequence[str] = ("ndjson", "cef"),
) -> Path:
    """Write a sample export to ``out_dir`` and return the ZIP's path.

    Args:
        out_dir: folder to write to (created if missing).
        seed: the seed; the same arguments give the same bytes.
        days: length of the period, ending at ``end`` (at least :data:`MIN_DAYS`).
        end: end of the period (exclusive), midnight UTC.
        incidents: plant the incidents and write ``incidents.json`` and ``README.md``;
            False writes a control sample (the ZIP only).
        formats: export formats to put in the ZIP, keys of :data:`FORMATS` (by default both,
            as the Portal's "NDJSON and CEF" export: loading it counts the CEF twins as duplicates).

    Returns:
        The path of ``portal_audit_export.zip``.

    Raises:
        InputError: bad ``days``/``end`` or an unknown format.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = generate_samples(d, days=7)
        ...     sorted(x.name for x in p.parent.iterdir())
        ['README.md', 'incidents.json', 'portal_audit_export.zip']
    """
    sample = build_samples(seed=seed, days=days, end=end, incidents=incidents)
    return write_sample(sample, Path(out_dir), formats)
