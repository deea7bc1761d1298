"""Write docs/cli.md from the commands' own --help (run by `make docs`; a test checks it is current)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditlab.cli import COMMANDS, main

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def render() -> str:
    """docs/cli.md as the commands describe themselves."""
    out = [
        "# auditlab command line",
        "",
        "Generated from `--help` by `make docs` (`scripts/cli_docs.py`); `tests/cli/test_cli_docs.py`",
        "fails when it is stale. Every command exits with code 2 and one line on bad input.",
        "",
    ]
    for name in ["", *sorted(COMMANDS)]:
        command = main if not name else main.get_command(click.Context(main), name)
        assert command is not None
        title = f"auditlab {name}".strip()
        with click.Context(
            command,
            info_name=title,
            terminal_width=100,
            max_content_width=100,
            help_option_names=["-h", "--help"],
        ) as ctx:
            text = command.get_help(ctx)
        out += [f"## `{title}`", "", "```", text, "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
