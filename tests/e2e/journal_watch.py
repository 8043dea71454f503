"""Watching a running apply's journal in the state file: the moment to interrupt or kill it."""

from __future__ import annotations

import sqlite3
import subprocess
import time


def wait_for_journal(workdir, process: subprocess.Popen, where: str, at_least: int = 1) -> None:
    """Wait (up to a minute) until the state file's apply journal has `at_least` rows matching
    `where` (SQL over the journal table), or the process ends: the moment to interrupt an apply."""
    state = workdir.path / ".qbsync" / "state.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            found = sqlite3.connect(state).execute(f"select count(*) from journal where {where}").fetchone()[0]
        except sqlite3.Error:
            found = 0
        if found >= at_least:
            return
        time.sleep(0.001)
