"""Type aliases shared across auditlab."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeAlias

__all__ = ["PathLike", "Paths"]

PathLike: TypeAlias = str | os.PathLike[str]
Paths: TypeAlias = PathLike | Iterable[PathLike]
