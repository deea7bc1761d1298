"""Fixtures of the explorer tests (the events are in ``events.py``)."""

from __future__ import annotations

import pytest

from auditlab.store.workspace import Workspace

from .events import events


@pytest.fixture()
def ws() -> Workspace:
    return Workspace.from_events(events())
