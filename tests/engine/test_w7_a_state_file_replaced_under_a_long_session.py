"""W7 when a state file is lost: a long-lived session (the TUI, `qbsync run --every`) whose state file
another process deleted or replaced opens it again as it now is, instead of writing on to a file
nobody else sees. The TUI's side of it is in tests/tui/test_real_session.py."""

from __future__ import annotations

import sqlite3
import threading

from engine.local.demo import seed_scale
from engine.run import run_every
from engine.store import Store

REALM = "8132"


def lose(path) -> None:
    """What `rm .qbsync/state.db*` does, with the session still holding the file open."""
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)


def plans_in(path) -> list[str]:
    store = Store(path)
    try:
        return [row["id"] for row in store.db.query("select id from plans")]
    finally:
        store.close()


def test_w7_a_session_whose_state_file_was_deleted_writes_its_next_plan_where_everyone_looks(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 5)
    with servers.session(fresh_dir(), REALM) as session:
        session.plan()
        assert not session.reopen_if_replaced()  # nothing happened to it
        lose(session.state_path)
        assert session.reopen_if_replaced()
        assert not session.reopen_if_replaced()  # once
        again = session.plan()  # the file as it now is holds nothing: everything is read again
        assert again.actions and not again.unchanged
        assert plans_in(session.state_path) == [again.id]  # written where every other qbsync looks


def test_w7_a_run_loop_whose_state_file_was_restored_from_a_backup_says_so_and_uses_it(servers, fresh_dir):
    servers.reset(REALM)
    seed_scale(servers.quickbooks, servers.precoro, REALM, 5)
    with servers.session(fresh_dir(), REALM) as session:
        path = session.state_path
        backup = path.with_name("backup.db")
        with sqlite3.connect(path) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)  # before any run
        backup.chmod(0o600)  # it holds credentials: a file others may read is refused (InsecureStateFile)
        stop, warned, summaries = threading.Event(), [], []

        def report(summary) -> None:
            summaries.append(summary)
            if len(summaries) == 1:
                lose(path)
                backup.rename(path)  # the backup restored under the running loop
            else:
                stop.set()

        run_every(session, 0.01, stop, report, warn=warned.append)
        assert len(summaries) == 2
        assert any(f"the state file {path} was deleted or replaced by another process" in w for w in warned), warned
        # The second run is in the restored file, which held none: not in the one the first run wrote to.
        restored = Store(path)
        try:
            runs = list(restored.db.query("select id, plan_id from runs"))
        finally:
            restored.close()
        assert [run["plan_id"] for run in runs] == [summaries[1].plan_id]
