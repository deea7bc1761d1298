"""``auditlab investigate``: run the canned investigations, print the findings, write the HTML report."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from auditlab._time import iso_time
from auditlab.cli._options import (
    filter_options,
    json_option,
    paths_argument,
    store_option,
)
from auditlab.cli._workspace import open_workspace
from auditlab.investigations import INVESTIGATIONS
from auditlab.investigations._result import severity_rank

if TYPE_CHECKING:
    from auditlab.filters import Query

    # pragma: no cover
    from auditlab.investigations import InvestigationResult

__all__ = ["investigate"]


@click.command("investigate")
@paths_argument
@store_option
@filter_options(default_since="all")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(list(INVESTIGATIONS)),
    help="Run only this investigation (repeatable) [default: all].",
)
@click.option(
    "--rules",
    "rules",
    type=click.Path(exists=True, path_type=str),
    default=None,
    help="Also run your own detections: a YAML/TOML rule file or a folder of them (see docs/detections.md).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=str),
    default=None,
    help="Write the HTML report (one self-contained file) here.",
)
@click.option("--overwrite", is_flag=True, help="Replace the report file if it exists.")
@json_option
def investigate(
    paths: tuple[str, ...],
    store: str | None,
    query: Query,
    only: tuple[str, ...],
    rules: str | None,
    out: str | None,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Run the investigations (failed logins, PAT revocations, SSO changes, quota spending, exports).

    Investigates ALL events unless --since, --start/--end or --where narrow the scope (a --where
    without a time range also means all events). Prints one line per finding, grouped by
    investigation; --json prints a JSON list of findings instead. --rules adds your own detections
    (their findings under "rules"). --out writes the HTML report (inline charts, opens offline); it
    does not replace an existing file without --overwrite. An invalid filter or rule file exits 2.

    Example:

        auditlab investigate data/samples/portal_audit_export.zip --out out/report.html
    """
    from auditlab.investigations import all_findings, iter_results
    from auditlab.investigations.detection import load_rules

    declared = load_rules(rules) if rules else None  # a bad rule file fails before loading the data
    ws = open_workspace(store, paths, quiet=as_json)
    each = iter_results(ws, query=query, names=only or None, rules=declared)
    results: list[InvestigationResult] = []  # held only for --json and the report
    if as_json:
        results = list(each)
        findings = all_findings(results)
        click.echo(json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False))
    else:
        counts: Counter[str] = Counter()
        for result in each:
            _echo_result(result)
            counts.update(f.severity for f in result.findings)
            if out:
                results.append(result)
            del result  # without a report, not held while the next investigation runs
        _echo_total(counts)
    if out:
        from auditlab.investigations._common import Scope
        from auditlab.report import write_report

        with Scope(ws, query) as scope:
            count = scope.count()
        start_at, end_at = scope.bounds
        span = ws.time_span()  # an open end of the range reads as the first / last event loaded
        start = iso_time(start_at) if start_at else f"{iso_time(span[0])} (first event)" if span else "open"
        end = (
            iso_time(end_at) + " (exclusive)"
            if end_at
            else f"{iso_time(span[1])} (last event)"
            if span
            else "open"
        )
        facts = {
            "sources": ", ".join(paths) if paths else f"store {store}",
            "events in scope": count,
            "time range": f"{start} .. {end}",
            "generated": iso_time(datetime.now(UTC)),
        }
        from auditlab.errors import InputError

        try:
            path = write_report(
                results,
                out,
                title="auditlab investigation report",
                scope=scope.query.to_text(),
                facts=facts,
                overwrite=overwrite,
            )
        except InputError as exc:
            raise InputError(str(exc).replace("pass overwrite=True", "pass --overwrite")) from None
        click.echo(f"report written to {path}", err=as_json)


def _one_line(text: str) -> str:
    """A value from the logs on one terminal line: control characters shown escaped, never sent raw."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _echo_result(result: InvestigationResult) -> None:
    n = len(result.findings)
    click.echo(f"{result.name}: {result.title} - {n} finding{'' if n == 1 else 's'}")
    for f in result.findings:
        span = f"{f.first_seen.astimezone(UTC):%Y-%m-%d %H:%M:%S} .. {f.last_seen.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
        click.echo(f"  {f.severity:<8} {f.technique or '-':<10} {span}  {f.count:>5}  {_one_line(f.title)}")


def _echo_total(counts: Counter[str]) -> None:
    """The closing line: the number of findings, by severity, most severe first."""
    by_severity = ", ".join(f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: -severity_rank(s)))
    total = sum(counts.values())
    click.echo(f"{total} finding{'' if total == 1 else 's'}" + (f" ({by_severity})" if by_severity else ""))
