"""Where trainguard keeps its own files: ``$TRAINGUARD_HOME``, else ``~/.trainguard``.

Under it: ``datasets/`` (fetched dataset versions), ``violations.db`` (the registry's
SQLite default), ``waivers.jsonl``, ``exports/`` and ``cache/``.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "TRAINGUARD_HOME"


def trainguard_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".trainguard")
