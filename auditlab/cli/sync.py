"""``auditlab sync``: keep a store current through the Portal API (export jobs, high-water mark)."""

from __future__ import annotations

import json
import re
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from auditlab.cli._options import filter_options, json_option, store_option

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.filters import Query

__all__ = ["sync"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r}: use a number with s, m, h or d, e.g. 1h")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@click.command("sync")
@store_option
@click.option("--server", default=None, help="Portal server (instance) name [env AUDITLAB_SERVER].")
@click.option("--org", "organization", default=None, help="Organization [env AUDITLAB_ORG].")
@click.option("--host", default=None, help="Portal host, or a URL with scheme and port [env AUDITLAB_HOST].")
@click.option("--base-url", default=None, help="The whole API base URL (overrides --host/--server).")
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False, path_type=str),
    help="The Spectra Assure SDK's JSON file (SpectraAssureApi object) [env AUDITLAB_CONFIG].",
)
@click.option("--ca-bundle", default=None, help="PEM file of CA certificates to trust.")
@click.option("--timeout", type=float, default=None, help="Seconds for each HTTP call [60].")
@click.option("--max-wait", type=float, default=None, help="Longest single wait between retries, s [60].")
@click.option("--overlap", default="1h", show_default=True, help="Fetch again this far before the mark.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["ndjson", "cef"]),
    help="Export format(s) to request [ndjson].",
)
@click.option(
    "--keep-downloads",
    default=None,
    type=click.Path(file_okay=False, path_type=str),
    help="Keep the downloaded export ZIPs in this folder.",
)
@filter_options(default_since="30d")
@json_option
def sync(
    store: str | None,
    server: str | None,
    organization: str | None,
    host: str | None,
    base_url: str | None,
    config_file: str | None,
    ca_bundle: str | None,
    timeout: float | None,
    max_wait: float | None,
    overlap: str,
    formats: tuple[str, ...],
    keep_downloads: str | None,
    query: Query,
    as_json: bool,
) -> None:
    """Sync a store from the Portal API: export jobs per window of <= 365 days, then ingest.

    The first sync covers --since (30d) or --start/--end; later ones start at the store's
    high-water mark minus --overlap. The token comes from AUDITLAB_TOKEN, the SDK file, or the
    keyring (service "auditlab", user = the organization); it is never a command-line option.

    Example:

        AUDITLAB_TOKEN=... auditlab sync --store ./audit-store --server acme --org Acme --since 30d
    """
    from auditlab.portal.settings import resolve_settings
    from auditlab.portal.sync import sync as run_sync

    if not store:
        raise click.UsageError("--store is required")
    knobs: dict[str, Any] = {
        k: v for k, v in {"timeout": timeout, "max_wait": max_wait}.items() if v is not None
    }
    settings = resolve_settings(
        server=server,
        organization=organization,
        host=host,
        base_url=base_url,
        config_file=config_file,
        ca_bundle=ca_bundle,
        **knobs,
    )
    result = run_sync(
        store,
        settings=settings,
        query=query,
        formats=formats or ("ndjson",),
        overlap=_duration(overlap),
        keep_downloads=keep_downloads,
        progress=not as_json and sys.stderr.isatty(),
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), default=str))
    else:
        click.echo(str(result))
