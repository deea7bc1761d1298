"""The import budget: ``import auditlab`` and ``auditlab --help`` stay light; the public face is complete."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import auditlab

HEAVY = ("altair", "ipywidgets", "httpx", "vl_convert")


def _modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split("\n")[-2].split())


def test_import_auditlab_is_light() -> None:
    loaded = _modules_after("import auditlab")
    assert loaded & {*HEAVY, "click", "duckdb", "polars", "pyarrow", "pyspark"} == set()


def test_spark_modules_import_pyspark_only_when_used() -> None:
    loaded = _modules_after("import auditlab.spark, auditlab.filters.to_spark")
    assert loaded & {*HEAVY, "pyspark", "py4j"} == set()


def test_import_of_report_charts_and_registry_is_light() -> None:
    loaded = _modules_after("import auditlab.investigations, auditlab.charts, auditlab.report")
    assert loaded & {*HEAVY, "duckdb", "polars", "pyarrow"} == set()


def test_cli_help_is_light() -> None:
    """``auditlab --help`` lists every command (importing each command module) without heavy imports."""
    code = (
        "import sys\nfrom auditlab.cli import main\nsys.argv = ['auditlab', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert loaded & set(HEAVY) == set()
    help_text = subprocess.run(
        [sys.executable, "-c", "from auditlab.cli import main; main()", "--help"],
        capture_output=True,
        text=True,
    ).stdout
    assert "investigate  Run the investigations" in help_text


PACKAGES = ["auditlab", "auditlab.investigations", "auditlab.charts", "auditlab.report"]


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest, each alphabetical."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_key)
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == []


@pytest.mark.parametrize(
    "name", ["failed_logins", "pat_revocations", "sso_changes", "quota_spending", "run_all", "render_html"]
)
def test_investigation_functions_are_functions(name: str) -> None:
    """``auditlab.failed_logins`` is the function even after its module of the same name is imported."""
    importlib.import_module("auditlab.investigations.failed_logins")
    value = getattr(auditlab, name)
    assert callable(value) and value.__name__ == name
