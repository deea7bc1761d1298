"""Shared fixtures for the investigation tests: the committed sample, a control sample, hand-made events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import auditlab
from auditlab.samples import generate_samples
from auditlab.schema import COLUMNS, EVENTS_SCHEMA
from auditlab.store.workspace import Workspace

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

#: A fixed origin for hand-made events.
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample_ws() -> Workspace:
    """The committed sample (seed 7, 30 days, 9 planted incidents), loaded once."""
    return auditlab.load(SAMPLES / "portal_audit_export.zip")


@pytest.fixture(scope="session")
def incidents() -> dict[str, dict[str, Any]]:
    """The planted incidents of the committed sample, by kind."""
    data = json.loads((SAMPLES / "incidents.json").read_text(encoding="utf-8"))
    return {inc["kind"]: inc for inc in data["incidents"]}


@pytest.fixture(scope="session")
def control_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A control sample: same generator (seed 7, 30 days) without incidents, generated once."""
    zip_path = generate_samples(tmp_path_factory.mktemp("control"), seed=7, days=30, incidents=False)
    return auditlab.load(zip_path)


def make_events(rows: Iterable[Mapping[str, Any]]) -> Workspace:
    """A workspace holding hand-made events.

    Each row gives canonical columns; ``minutes`` (offset from :data:`T0`) may stand in for
    ``timestamp``; ``event_id`` defaults to ``e<n>``, ``outcome`` to ``success``, ``auth_context``
    to ``portal``; ``details`` may be a dict.
    """
    cols = [c for c in COLUMNS if c != "raw"]
    made = []
    for n, given in enumerate(rows):
        row = dict(given)
        if "minutes" in row:
            row["timestamp"] = T0 + timedelta(minutes=row.pop("minutes"))
        row.setdefault("event_id", f"e{n}")
        row.setdefault("outcome", "success")
        row.setdefault("auth_context", "portal")
        row.setdefault("source", "test")
        row.setdefault("source_line", n + 1)
        if isinstance(row.get("details"), dict):
            row["details"] = json.dumps(row["details"])
        unknown = set(row) - set(cols)
        assert not unknown, unknown
        made.append(row)
    schema = pa.schema([EVENTS_SCHEMA.field(c) for c in cols])
    return Workspace.from_events(pa.Table.from_pylist(made, schema=schema))


@pytest.fixture
def events_ws() -> Callable[[Iterable[Mapping[str, Any]]], Workspace]:
    """A factory: ``events_ws([{...}, ...])`` -> a workspace of hand-made events (see :func:`make_events`)."""
    return make_events
