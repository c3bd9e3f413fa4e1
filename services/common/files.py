"""Small file helpers shared by the services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the whole new one, never a part."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    write_atomically(path, json.dumps(data, indent=2, default=str) + "\n")
