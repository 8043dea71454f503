"""The operator's TUI settings (the theme), in a small JSON file beside the state file (.qbsync/).

Not a table in the state file: that file is the engine's, written under its writer lock (a long
apply holds it for minutes), while a theme is picked at any moment and is no business of the
engine's. Beside the state rather than in the home directory: qbsync keeps everything about an
installation in one place, and a `--state` elsewhere keeps its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SETTINGS_FILE = "tui.json"


def beside(state_path: str | os.PathLike[str]) -> Path:
    return Path(state_path).parent / SETTINGS_FILE


def read_theme(path: Path) -> str | None:
    """The theme remembered in `path`; None when there is none, or the file is not ours to read."""
    try:
        theme = json.loads(path.read_text(encoding="utf-8")).get("theme")
    except (OSError, ValueError, AttributeError):
        return None
    return theme if isinstance(theme, str) else None


def write_theme(path: Path, theme: str) -> None:
    """Remember `theme` in `path`; a crash never leaves half a file. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_file = path.with_suffix(".tmp")
    partial_file.write_text(json.dumps({"theme": theme}) + "\n", encoding="utf-8")
    os.replace(partial_file, path)
