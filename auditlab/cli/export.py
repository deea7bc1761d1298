"""``auditlab export``: write a Portal-style export ZIP (NDJSON and/or CEF + manifest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from auditlab.cli._options import filter_options, json_option, paths_argument, store_option

if TYPE_CHECKING:
    from auditlab.filters import Query

__all__ = ["export"]


@click.command("export")
@paths_argument
@store_option
@filter_options(default_since="all")
@click.option("--name", required=True, help="Export name (the ZIP is <out>/<name>.zip).")
@click.option("--formats", default="ndjson,cef", show_default=True, help="Comma-separated: ndjson, cef.")
@click.option("--out", "out_dir", default="exports", show_default=True, type=click.Path(file_okay=False),
              help="Folder of exports.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an export of the same name.")
@json_option
def export(
    paths: tuple[str, ...],
    store: str | None,
    query: Query,
    name: str,
    formats: str,
    out_dir: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Export events as a ZIP shaped like a Portal export, with a manifest.

    Exports ALL events unless --since, --start/--end or --where narrow the selection; the
    filters and time range are written into the manifest.

    Example:

        auditlab export data/samples/portal_audit_export.zip --where "outcome is failure" --name failures --out exports
    """
    import json

    from auditlab.cli._workspace import open_workspace
    from auditlab.io.export import ExportRegistry
    from auditlab.io.export import export as write_export

    ws = open_workspace(store, paths, quiet=as_json)
    wanted = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    path = write_export(ws.query(query), name, formats=wanted, out_dir=out_dir, overwrite=overwrite)
    entry = ExportRegistry(out_dir).get(path.stem)
    if as_json:
        click.echo(json.dumps({"name": entry.name, "path": str(path), "events": entry.events,
                               "expires_at": entry.expires_at.isoformat()}))  # fmt: skip
    else:
        click.echo(f"{path}: {entry.events} events, expires {entry.expires_at:%Y-%m-%d %H:%M} UTC")
