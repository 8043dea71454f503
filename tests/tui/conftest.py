"""Fixtures for the TUI tests (the app itself is built by snapshot_app.make_app)."""

from __future__ import annotations

import os

# Before Textual is imported by the tests (see snapshot_app for why this is not enough alone).
os.environ["TEXTUAL_ANIMATIONS"] = "none"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from demo_session import RULES, FakeSession  # noqa: E402

HERE = Path(__file__).resolve().parent


@pytest.fixture
def session() -> FakeSession:
    return FakeSession(rules_path=RULES)


@pytest.fixture
def here(monkeypatch) -> Path:
    """Run from this directory, so paths on screen read `rules.yaml` on every machine."""
    monkeypatch.chdir(HERE)
    return HERE


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
