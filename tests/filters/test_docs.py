"""docs/filters.md covers every field, alias and operator, and its examples run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditlab.filters import FIELDS, Op, parse_query

DOC = (Path(__file__).parents[2] / "docs" / "filters.md").read_text(encoding="utf-8")


def _field_rows() -> dict[str, str]:
    rows = {}
    for line in DOC.splitlines():
        m = re.match(r"\| ([^|]+) \| `(\w+)` \|([^|]*)\|", line)
        if m:
            rows[m[2]] = line
    return rows


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_field_has_a_row_with_its_label_and_aliases(name: str) -> None:
    row = _field_rows().get(name)
    spec = FIELDS[name]
    assert row is not None, f"docs/filters.md has no row for {name}"
    assert row.startswith(f"| {spec.label} |")
    for alias in spec.aliases:
        assert f"`{alias}`" in row
    ops = ", ".join(o.value for o in Op if o.value in spec.api_ops) or "—"
    assert f"| {ops} |" in row


@pytest.mark.parametrize("op", list(Op))
def test_every_operator_is_documented(op: Op) -> None:
    assert f"| `{op.value}` |" in DOC
    spoken = op.value.replace("_", " ")
    if spoken != op.value:
        assert f"`{spoken}`" in DOC


def test_text_form_examples_parse() -> None:
    block = DOC.split("## Text form", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 2
    for line in lines:
        assert parse_query(line).to_text()
