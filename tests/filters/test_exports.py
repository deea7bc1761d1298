"""auditlab.filters: a sorted, complete __all__ and no engine imports."""

from __future__ import annotations

import subprocess
import sys

import auditlab
import auditlab.filters as filters


def test_all_is_sorted_and_importable() -> None:
    def kind(name: str) -> tuple[int, str]:  # isort style, as ruff's RUF022: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert filters.__all__ == sorted(filters.__all__, key=kind)
    public = {
        n
        for n in dir(filters)
        if not n.startswith("_") and n not in {"annotations", "fields", "model", "serde", "text", "to_portal"}
    }
    assert public == set(filters.__all__)
    assert callable(filters.to_sql) and callable(filters.to_polars)  # the functions, not their modules


def test_top_level_names() -> None:
    for name in ("Query", "Condition", "TimeRange", "Op", "parse_query", "QueryResult"):
        assert name in auditlab.__all__
        assert getattr(auditlab, name).__name__ == name


def test_importing_filters_imports_no_engine() -> None:
    code = "import sys, auditlab.filters; print(sorted(m for m in ('polars', 'duckdb') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
