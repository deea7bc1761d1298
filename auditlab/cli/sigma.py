"""``auditlab sigma export``: the Sigma-expressible detections as Sigma rules for your SIEM."""

from __future__ import annotations

import click

__all__ = ["sigma"]


@click.group("sigma")
def sigma() -> None:
    """Sigma rules of auditlab's detections (see docs/detections.md for what is exported and why).

    Example:

        auditlab sigma export --out sigma
    """


@sigma.command("export")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write to.")
@click.option("--overwrite", is_flag=True, help="Replace rule files that exist.")
def export(out_dir: str, overwrite: bool) -> None:
    """Write OUT/rules/*.yml (Sigma rules: correlations for brute force, password spraying, token
    revocation and export bursts; plain rules for SSO disabled and organisation-wide token revocation)
    and OUT/pipelines/spectra_assure_portal.yml (the pySigma pipeline mapping the rules' fields to
    auditlab's canonical columns). Convert them with sigma-cli, e.g.
    ``sigma convert -t splunk -p OUT/pipelines/spectra_assure_portal.yml OUT/rules``.
    """
    from auditlab.errors import InputError
    from auditlab.sigma import export_sigma

    try:
        paths = export_sigma(out_dir, overwrite=overwrite)
    except InputError as exc:
        raise InputError(str(exc).replace("pass overwrite=True", "pass --overwrite")) from None
    for path in paths:
        click.echo(str(path))
