"""``auditlab info``: what a store or a set of exports holds."""

from __future__ import annotations

import json

import click

from auditlab.cli._options import json_option, paths_argument, store_option
from auditlab.cli._workspace import open_workspace

__all__ = ["info"]


@click.command("info")
@paths_argument
@store_option
@click.option("--top", default=20, show_default=True, help="How many actions to list.")
@json_option
def info(paths: tuple[str, ...], store: str | None, top: int, as_json: bool) -> None:
    """Summarise events: count, time span, counts by action, outcome and day.

    Example:

        auditlab info data/samples/portal_audit_export.zip
    """
    ws = open_workspace(store, paths, quiet=as_json)
    summary = ws.summary(top=top)
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
        return
    report = ws.last_report
    if report is not None:
        click.echo(
            f"loaded       {report.loaded} of {report.lines} lines "
            f"({report.duplicates} duplicates, {report.quarantined} quarantined)"
        )
    click.echo(str(summary))
