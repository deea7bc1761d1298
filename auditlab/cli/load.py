"""``auditlab load``: load exports, into memory or a store, and print the load report."""

from __future__ import annotations

import json
import sys

import click

from auditlab.cli._options import json_option, store_option

__all__ = ["load"]


@click.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@store_option
@click.option("--strict", is_flag=True, help="Fail on the first bad line instead of quarantining it.")
@json_option
def load(paths: tuple[str, ...], store: str | None, strict: bool, as_json: bool) -> None:
    """Load audit exports and report every line: loaded, duplicate or quarantined.

    Without --store the load is checked in memory and nothing is kept.

    Example:

        auditlab load data/samples/portal_audit_export.zip --store ./audit-store
    """
    progress = not as_json and sys.stderr.isatty()
    if store:
        from auditlab.store.persistent import open_store

        report = open_store(store).ingest(*paths, strict=strict, progress=progress)
    else:
        from auditlab.store.workspace import load as load_paths

        ws = load_paths(*paths, strict=strict, progress=progress)
        assert ws.last_report is not None
        report = ws.last_report
    if as_json:
        click.echo(json.dumps(report.to_dict(), default=str))
    else:
        click.echo(str(report))
