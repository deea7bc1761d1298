"""The Audit Logs explorer: the Portal's *View Audit Logs* page as ipywidgets, offline, on any history.

``state.py`` holds the logic (no widgets, tested headless); ``view.py`` the ipywidgets page.
``Explorer`` is resolved lazily, so importing this package does not import ipywidgets.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["Explorer", "ExplorerState"]

_LAZY = {"Explorer": "auditlab.explorer.view", "ExplorerState": "auditlab.explorer.state"}

if TYPE_CHECKING:  # pragma: no cover
    from auditlab.explorer.state import ExplorerState as ExplorerState
    from auditlab.explorer.view import Explorer as Explorer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditlab.explorer' has no attribute {name!r}")
    return getattr(import_module(module), name)
