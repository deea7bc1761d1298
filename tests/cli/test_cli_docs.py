"""docs/cli.md is generated from --help and must be current; every command has help and an example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from auditlab.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]


def _renderer():
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render


def test_docs_cli_md_is_current():
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == _renderer()(), "run `make docs`"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name):
    import click

    command = main.get_command(click.Context(main), name)
    assert command is not None and command.help
    assert "Example" in command.help or "example" in command.help.lower(), name
