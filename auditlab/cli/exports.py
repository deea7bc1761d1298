"""``auditlab exports list|delete|purge``: the folder of exports, like the Portal's Audit Exports table."""

from __future__ import annotations

import click

from auditlab.cli._options import json_option

__all__ = ["exports"]

_out = click.option("--out", "out_dir", default="exports", show_default=True, type=click.Path(file_okay=False),
                    help="Folder of exports.")  # fmt: skip


@click.group("exports")
def exports() -> None:
    """List, delete or purge export ZIPs (expired ones are purged on listing).

    Example:

        auditlab exports list --out exports
    """


@exports.command("list")
@_out
@json_option
def list_(out_dir: str, as_json: bool) -> None:
    """List exports: name, NDJSON and CEF files, created, expires, events."""
    import json

    from auditlab.io.export import ExportRegistry

    entries = ExportRegistry(out_dir).list()
    if as_json:
        click.echo(json.dumps([
            {"name": e.name, "path": str(e.path), "ndjson": e.ndjson, "cef": e.cef, "events": e.events,
             "created_at": e.created_at.isoformat(), "expires_at": e.expires_at.isoformat()}
            for e in entries
        ]))  # fmt: skip
        return
    if not entries:
        click.echo("no exports")
        return
    click.echo(
        f"{'name':30} {'ndjson':17} {'cef':14} {'created (UTC)':16} {'expires (UTC)':16} {'events':>9}"
    )
    for e in entries:
        click.echo(
            f"{e.name[:30]:30} {e.ndjson or '-':17} {e.cef or '-':14} {e.created_at:%Y-%m-%d %H:%M} "
            f"{e.expires_at:%Y-%m-%d %H:%M} {e.events:>9}"
        )


@exports.command("delete")
@click.argument("name")
@_out
def delete(name: str, out_dir: str) -> None:
    """Delete the export NAME."""
    from auditlab.io.export import ExportRegistry

    entry = ExportRegistry(out_dir).delete(name)
    click.echo(f"deleted {entry.path}")


@exports.command("purge")
@_out
def purge(out_dir: str) -> None:
    """Delete every expired export."""
    from auditlab.io.export import ExportRegistry

    gone = ExportRegistry(out_dir).purge()
    click.echo(f"purged {len(gone)} expired export(s)" + (": " + ", ".join(gone) if gone else ""))
