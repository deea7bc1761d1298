"""The investigations over a persistent store, each against a DuckDB scan of the events it reads.

Usage: python bench/run.py (all benchmarks: make bench).

Each registered investigation (``auditlab.investigations.INVESTIGATIONS``) runs over the whole
store (``query=None``: all time) in a fresh process; ``run_all`` runs the four as
``auditlab investigate`` does. The bare equivalent is DuckDB over the same store view reading the
columns the detections use for the actions the investigation scores (its scope's floor: what any
implementation must read), materialised as Arrow. The ratio is that floor's time / ours.
"""

from __future__ import annotations

from typing import Any

from _harness import Context, compare

READ_COLUMNS = "event_id, timestamp, action, outcome, user_email, user_id, ip_address, auth_context, details"


def _actions(name: str) -> list[str] | None:
    """The actions an investigation scores (None: it reads every event)."""
    from auditlab.investigations import failed_logins, pat_revocations, quota_spending, sso_changes

    table = {
        "failed_logins": [*failed_logins.LOGIN_ACTIONS, *failed_logins.RESET_ACTIONS],
        "pat_revocations": list(pat_revocations.PAT_ACTIONS),
        "sso_changes": [*sso_changes.AUTH_ACTIONS, *sso_changes.POLICY_ACTIONS],
        "quota_spending": list(quota_spending.QUOTA_ACTIONS),
    }
    return table.get(name)


def investigate(store: str, name: str) -> dict[str, Any]:
    """Child: one investigation (or ``run_all``) over the whole store."""
    import auditlab
    from auditlab.investigations import get_investigation, run_all

    st = auditlab.open_store(store, create=False)
    import time

    t0 = time.perf_counter()
    results = run_all(st) if name == "run_all" else [get_investigation(name)(st)]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "findings": sum(len(r.findings) for r in results)}


def scan_floor(store: str, name: str) -> dict[str, Any]:
    """Child: DuckDB reads the investigation's columns and actions from the same store view."""
    import auditlab
    from auditlab.investigations import INVESTIGATIONS

    st = auditlab.open_store(store, create=False)
    names = list(INVESTIGATIONS) if name == "run_all" else [name]
    lists = [_actions(n) for n in names]
    import time

    t0 = time.perf_counter()
    rows = 0
    if any(a is None for a in lists):
        rows = st.con.sql(f"SELECT {READ_COLUMNS} FROM events").to_arrow_table().num_rows
    else:
        acts = sorted({a for lst in lists for a in lst or []})
        rel = st.con.sql(f"SELECT {READ_COLUMNS} FROM events WHERE list_contains(?, action)", params=[acts])
        rows = rel.to_arrow_table().num_rows
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def benchmark(ctx: Context) -> dict[str, Any]:
    from auditlab.investigations import INVESTIGATIONS

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for name in [*INVESTIGATIONS, "run_all"]:
        if name == "run_all" and any(r.get("timed_out") for r in rows):
            notes.append("run_all skipped: an investigation it runs timed out on its own")
            continue
        label = "all investigations (run_all)" if name == "run_all" else f"investigation {name}"
        out = compare(
            label,
            ctx.events,
            ("bench_investigate:investigate", {"store": str(ctx.store), "name": name}),
            "DuckDB scan of the events and columns it reads",
            ("bench_investigate:scan_floor", {"store": str(ctx.store), "name": name}),
            repeat=ctx.repeat,
        )
        if out.get("reported", {}).get("findings") is not None:  # peak RSS grows with the answer's size
            out["note"] = f"{out['reported']['findings']:,} findings" + (
                f"; {out['note']}" if out["note"] else ""
            )
        rows.append(out)
    return {"title": "Investigations (persistent store, all time)", "rows": rows, "notes": notes}
