"""The harness itself: a notebook opens in JupyterLab, runs, and its output reaches the page."""

from __future__ import annotations

import json

import pytest


@pytest.mark.browser
def test_a_notebook_runs_in_jupyterlab(lab, page):
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "c1",
                "metadata": {},
                "outputs": [],
                "source": ["print('harness', 6 * 7)"],
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lab.root / "harness.ipynb").write_text(json.dumps(nb))
    lab.open_notebook(page, "harness.ipynb")
    lab.run_all_cells(page)
    page.wait_for_selector("text=harness 42", timeout=30_000)
    shot = lab.screenshot(page, "harness")
    assert shot.stat().st_size > 1000
    # nothing was written back into the notebook (autosave is off)
    assert json.loads((lab.root / "harness.ipynb").read_text())["cells"][0]["outputs"] == []
