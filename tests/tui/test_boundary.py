"""The engine and the rules never load Textual or Rich: the CLI's headless commands stay light and
the core stays usable without a terminal (DESIGN: tui -> engine -> rules)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[str]:
    """Every importable module of a package, except the local API servers' optional pieces."""
    path = ROOT / package
    found = [package]
    for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
        found.append(info.name)
    return found


def test_engine_and_rules_never_import_textual_or_rich():
    """Import every module of `rules` and `engine` in a fresh interpreter; Textual and Rich stay out."""
    wanted = [*_modules("rules"), *_modules("engine")]
    # httpx imports Rich for its own command line whenever Rich is installed (httpx/_main.py); that
    # is httpx's doing, not ours, so its CLI module is stubbed and the check is about our imports.
    code = (
        "import importlib, json, sys, types\n"
        "cli = types.ModuleType('httpx._main'); cli.main = lambda *args, **kwargs: None\n"
        "sys.modules['httpx._main'] = cli\n"
        f"for name in {wanted!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(json.dumps({'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # every module of the core imports
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"textual/rich loaded by the core: {result['loaded'][:5]}"


def test_review_helpers_are_pure():
    """engine.review is shared by the CLI and the TUI: no Textual, no I/O."""
    source = (ROOT / "engine" / "review.py").read_text(encoding="utf-8")
    for forbidden in ("import textual", "from textual", "import rich", "from rich", "open(", "httpx"):
        assert forbidden not in source


def test_the_cli_parser_does_not_load_textual():
    """`qbsync --help` and the headless commands start without the TUI."""
    code = "import sys, tui.cli; tui.cli.build_parser(); print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
