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


def test_review_helpers_and_the_pure_core_load_no_io_in_fact():
    """engine.review (shared by the CLI and the TUI) and the planning core import no HTTP, no sqlite,
    no Textual, not only by what their source says but by what importing them loads."""
    code = ("import json, sys\n"
            "import engine.review, engine.reconcile, engine.entities, engine.writes, engine.policy\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'sqlite3', 'sqlite_utils', 'textual', 'rich', 'tenacity'))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_tuis_stand_in_session_offers_what_the_engine_offers():
    """The TUI's tests run against a stand-in: it and SyncSession both implement engine.api.SyncAPI,
    with the same parameters, so the stand-in cannot drift from the engine."""
    import inspect

    from demo_session import FakeSession

    from engine.api import SyncAPI
    from engine.sync import SyncSession

    wanted = {name for name, value in vars(SyncAPI).items() if callable(value) and not name.startswith("_")}
    assert wanted >= {"plan", "apply", "decide", "approve", "plan_to_review", "status", "history"}
    for name in sorted(wanted):
        expected = list(inspect.signature(getattr(SyncAPI, name)).parameters)
        for implementation in (SyncSession, FakeSession):
            method = getattr(implementation, name, None)
            assert method is not None, f"{implementation.__name__} has no {name}"
            assert list(inspect.signature(method).parameters) == expected, (implementation.__name__, name)


def test_the_cli_parser_does_not_load_textual():
    """`qbsync --help` and the headless commands start without the TUI."""
    code = "import sys, tui.cli; tui.cli.build_parser(); print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
