"""``auditlab samples``: write the deterministic sample export with planted incidents."""

from __future__ import annotations

import click

__all__ = ["samples"]


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=str),
    default="data/samples",
    show_default=True,
    help="Folder to write to.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option("--days", type=int, default=30, show_default=True, help="Length of the period in days.")
@click.option(
    "--end",
    default="2026-11-01T00:00:00Z",
    show_default=True,
    help="End of the period (exclusive), midnight UTC.",
)
@click.option(
    "--incidents/--no-incidents",
    default=True,
    show_default=True,
    help="Plant incidents (and write incidents.json and README.md), or write a control sample.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    default=("ndjson", "cef"),
    show_default=True,
    help="Export format(s) inside the ZIP.",
)
def samples(out_dir: str, seed: int, days: int, end: str, incidents: bool, formats: tuple[str, ...]) -> None:
    """Write a sample Portal audit export ZIP; prints its path.

    Example: auditlab samples --out data/samples --seed 7 --days 30
    """
    from auditlab.samples import generate_samples

    path = generate_samples(out_dir, seed=seed, days=days, end=end, incidents=incidents, formats=formats)
    click.echo(str(path))
