"""Real-browser harness: JupyterLab on 127.0.0.1 with a token, driven by headless Chromium (Playwright).

Nothing is downloaded: the browser is Debian's ``chromium`` (``/usr/bin/chromium``, or
``AUDITLAB_CHROMIUM``) and Playwright is the Python package from the ``browser`` extra
(``pip install -e '.[dev,browser]'``; Playwright's own browser download is never used).

Tests marked ``browser`` are skipped, with the reason, when Chromium or Playwright is missing; under
CI (``CI=true``) they fail instead, so CI always runs them.

Fixtures:
    lab: a session-wide JupyterLab server. Its root is a temporary folder holding a copy of
        ``notebooks/`` and a ``data`` link to the repository's ``data/`` (so the notebooks' relative
        paths work and nothing in the repository is written). Autosave is off. ``lab.url(path)``
        gives a tokened URL; ``lab.root`` is the folder (write extra notebooks there).
    browser: a session-wide headless Chromium.
    page: a fresh 1400x900 page; console errors are collected in ``page.console_errors``.

``lab`` also drives a page: ``lab.open_notebook(page, path)``, ``lab.run_all_cells(page)``,
``lab.screenshot(page, name)`` (PNG under the git-ignored ``tests/artifacts/``).

Example:
    @pytest.mark.browser
    def test_tour(lab, page):
        lab.open_notebook(page, "notebooks/00_start_here.ipynb")
        lab.run_all_cells(page)
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        lab.screenshot(page, "tour")
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("AUDITLAB_CHROMIUM", "/usr/bin/chromium")
#: Chromium flags for a sandboxless, offline, quiet headless run.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: JupyterLab settings for the test server: no autosave (notebooks are never written back), no news.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or ``None`` when they can."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set AUDITLAB_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[browser]')"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is None:
        return
    reason = missing_browser()
    if reason is None:
        return
    if _under_ci():
        pytest.fail(f"browser test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Lab:
    """A running JupyterLab server."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str = "lab") -> str:
        """A tokened URL under the server (``lab/tree/notebooks/x.ipynb``)."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def open_notebook(self, page: Any, path: str, *, timeout: float = 60.0) -> None:
        """Open ``path`` (relative to ``lab.root``) in JupyterLab and wait until its kernel is idle."""
        # ?reset: a fresh workspace, so a notebook an earlier test opened is not restored beside it
        page.goto(self.url(f"lab/tree/{path}?reset"))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
        page.wait_for_function(
            """(path) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                       if (!w || !w.context || w.context.path !== path) return false;
                       const k = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                       return !!k && k.status === 'idle'; }""",
            arg=path,
            timeout=timeout * 1000,
        )

    def run_all_cells(self, page: Any, *, timeout: float = 120.0) -> None:
        """Run every cell of the current notebook and wait until none is queued or running."""
        started = """() => { const w = window.jupyterapp.shell.currentWidget;
            return w.content.widgets.some(c => c.model.type === 'code' && (c.model.executionCount !== null
              || (c.promptNode && c.promptNode.textContent || '').includes('*'))); }"""
        for _attempt in range(3):  # a kernel that just reported idle may drop the first request
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            try:
                page.wait_for_function(started, timeout=15_000, polling=250)
                break
            except Exception:  # retried, then reported below
                continue
        try:
            self._wait_cells(page, timeout)
        except Exception:
            state = page.evaluate(
                """() => { const w = window.jupyterapp.shell.currentWidget;
                           return {kernel: w.sessionContext.session && w.sessionContext.session.kernel
                                     && w.sessionContext.session.kernel.status,
                                   prompts: w.content.widgets.map(c => c.promptNode && c.promptNode.textContent)}; }"""
            )
            self.screenshot(page, "run-all-timeout")
            raise AssertionError(f"cells did not finish in {timeout:.0f}s: {state}") from None

    def _wait_cells(self, page: Any, timeout: float) -> None:
        page.wait_for_function(
            """() => { const w = window.jupyterapp.shell.currentWidget;
                       const cells = w.content.widgets.filter(c => c.model.type === 'code');
                       const busy = cells.some(c => (c.promptNode && c.promptNode.textContent || '').includes('*'));
                       const kernel = w.sessionContext.session.kernel;
                       return !busy && kernel.status === 'idle'
                         && cells.every(c => c.model.executionCount !== null); }""",
            timeout=timeout * 1000,
            polling=250,
        )

    def screenshot(self, page: Any, name: str) -> Path:
        """Save a full-page PNG as ``tests/artifacts/<name>.png`` (git-ignored); returns its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _wait_ready(lab: Lab, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited ({lab.process.returncode}); log: {lab.log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(lab.url("api/status"), timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"jupyter lab not ready after {timeout:.0f}s; log: {lab.log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server we started (its own process group: the server and its kernels)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # kernels of a crashed server
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    reason = missing_browser()
    if reason is not None:
        if _under_ci():
            pytest.fail(f"browser test cannot run under CI: {reason}", pytrace=False)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(
        ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    (root / "data").symlink_to(ROOT / "data", target_is_directory=True)
    settings = base / "settings"
    for rel, value in LAB_SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(base / "ipython"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    token = secrets.token_hex(16)
    port = _free_port()
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--ServerApp.open_browser=False",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = base / "jupyter.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Lab(root=root, port=port, token=token, process=process, log=log)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def browser(lab: Lab) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    try:
        yield page
    finally:
        context.close()
