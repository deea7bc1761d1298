"""The investigation registry: names, lazy lookup, run_all (order, scope, parameters), all_findings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import auditlab
from auditlab.errors import QueryError
from auditlab.investigations import (
    INVESTIGATIONS,
    SEVERITIES,
    Finding,
    InvestigationResult,
    all_findings,
    evidence,
    get_investigation,
    run_all,
)
from auditlab.store.workspace import Workspace


@pytest.fixture(scope="module")
def results(sample_ws: Workspace) -> list[InvestigationResult]:
    return run_all(sample_ws)


def test_registry_points_at_functions_of_the_same_name() -> None:
    assert list(INVESTIGATIONS) == [
        "failed_logins",
        "pat_revocations",
        "sso_changes",
        "quota_spending",
        "data_exports",
    ]
    for name, target in INVESTIGATIONS.items():
        assert target == f"auditlab.investigations.{name}:{name}"
        assert get_investigation(name) is getattr(auditlab, name)


def test_unknown_name() -> None:
    with pytest.raises(
        QueryError, match="unknown investigation 'nope'; known: failed_logins, pat_revocations"
    ):
        get_investigation("nope")


def test_run_all_runs_every_investigation_in_order(results: list[InvestigationResult]) -> None:
    assert [r.name for r in results] == list(INVESTIGATIONS)
    for r in results:
        assert all(f.investigation == r.name for f in r.findings)
        assert all(f.severity in SEVERITIES for f in r.findings)


def test_run_all_scope_and_names(sample_ws: Workspace) -> None:
    """A query narrows every investigation; here one day holding the brute force only."""
    (result,) = run_all(sample_ws, query="between 2026-10-14T00:00:00Z and 2026-10-15T00:00:00Z",
                        names=["failed_logins"])  # fmt: skip
    assert [(f.technique, f.entities["user"]) for f in result.findings] == [
        ("T1110.001", ["ext.zoe.bauer@acme.example"])
    ]


def test_run_all_passes_parameters(sample_ws: Workspace, results: list[InvestigationResult]) -> None:
    """Thresholds reach the named investigation: at 20 failures the 14-failure brute force is no finding."""
    default = next(r for r in results if r.name == "failed_logins")
    (strict,) = run_all(
        sample_ws, names=["failed_logins"], params={"failed_logins": {"brute_force_failures": 20}}
    )
    assert "T1110.001" in [f.technique for f in default.findings]
    assert "T1110.001" not in [f.technique for f in strict.findings]
    assert strict.parameters["brute_force_failures"] == 20


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"names": ["failed_logins", "nope"]}, "unknown investigation 'nope'"),
        ({"params": {"nope": {}}}, "unknown investigation 'nope'"),
    ],
)
def test_run_all_rejects_unknown_names_before_running(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        run_all(Workspace(), **kwargs)  # type: ignore[arg-type]


def test_all_findings_order(results: list[InvestigationResult]) -> None:
    found = all_findings(results)
    assert len(found) == sum(len(r.findings) for r in results)
    keys = [(-SEVERITIES.index(f.severity), f.first_seen) for f in found]
    assert keys == sorted(keys)


def test_all_findings_ties_break_by_investigation_then_title() -> None:
    t = datetime(2026, 10, 1, tzinfo=UTC)
    mk = lambda inv, title: Finding(inv, "high", None, title, {}, t, t, 1)  # noqa: E731
    res = [
        InvestigationResult("b", "B", {}, [mk("b", "z")]),
        InvestigationResult("a", "A", {}, [mk("a", "y"), mk("a", "x")]),
    ]
    assert [(f.investigation, f.title) for f in all_findings(res)] == [("a", "x"), ("a", "y"), ("b", "z")]


def test_evidence_lists_the_events_of_a_finding(
    sample_ws: Workspace, results: list[InvestigationResult]
) -> None:
    brute_force = next(f for r in results for f in r.findings if f.technique == "T1110.001")
    frame = evidence(sample_ws, brute_force)
    assert frame.columns[:3] == ["timestamp", "action", "outcome"]
    assert sorted(frame["event_id"]) == sorted(brute_force.event_ids)
    assert frame["timestamp"].is_sorted()
    assert frame["error_message"].value_counts(sort=True).rows() == [
        ("Invalid credentials", 12),
        ("Account locked", 2),
    ]


@pytest.mark.parametrize("columns", [["timestamp", "x; DROP TABLE events"], []])
def test_evidence_rejects_unknown_columns(sample_ws: Workspace, columns: list[str]) -> None:
    t = datetime(2026, 10, 1, tzinfo=UTC)
    with pytest.raises(QueryError, match="not a canonical column"):
        evidence(sample_ws, Finding("x", "low", None, "x", {}, t, t, 0), columns=columns)


def test_investigation_charts_display_as_offline_svg(sample_ws: Workspace) -> None:
    """Every chart an investigation returns renders as SVG in the kernel, with no network."""
    from auditlab.investigations import run_all

    results = run_all(sample_ws)
    charts = [c for r in results for c in r.charts().values()]
    assert len(charts) >= 4
    for chart in charts:
        assert type(chart).__name__.startswith("Offline")
        assert chart._repr_mimebundle_()["image/svg+xml"].startswith("<svg")
