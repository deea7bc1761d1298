"""The ``auditlab`` command line: a thin click group over the public API.

Commands live one per module and are imported only when invoked (or listed by ``--help``),
so ``auditlab --help`` stays fast. ``AuditlabError`` becomes exit code 2 and one line, here only.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import click

__all__ = ["main"]

# command name -> "module:attribute". The one registry of commands.
COMMANDS: dict[str, str] = {
    "export": "auditlab.cli.export:export",
    "exports": "auditlab.cli.exports:exports",
    "info": "auditlab.cli.info:info",
    "investigate": "auditlab.cli.investigate:investigate",
    "load": "auditlab.cli.load:load",
    "query": "auditlab.cli.query:query",
    "samples": "auditlab.cli.samples:samples",
    "sigma": "auditlab.cli.sigma:sigma",
    "sync": "auditlab.cli.sync:sync",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command: click.Command = getattr(import_module(module), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from auditlab.errors import AuditlabError

        try:
            return super().invoke(ctx)
        except AuditlabError as exc:
            raise AuditlabFailure(str(exc)) from exc


class AuditlabFailure(click.ClickException):
    """An :class:`~auditlab.errors.AuditlabError` on the command line: exit code 2 and one line."""

    exit_code = 2  # bad input, bad filter, locked store (click's usage errors exit 2 as well)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="auditlab")
def main() -> None:
    """Investigate Spectra Assure Portal audit logs: load, filter, investigate, export."""
