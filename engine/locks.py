"""Cross-process locks beside the state file: one writer at a time (W7), one token refresh at a time.

An OS advisory lock (`flock`) on a small file next to the state file: the operating system drops it
when its process ends, however it ends (a SIGKILL included), so a crash never leaves qbsync stuck
behind a stale lock. The holder writes who it is into the file, so a second process can say whom
it is waiting for. Within one process the same file may be locked by several threads (the TUI's
workers): a process-wide mutex per path serialises them first.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import QbsyncError

POLL_SECONDS = 0.1

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: enough for an operator to find the other terminal."""

    pid: int | None
    host: str
    what: str
    since: str

    def describe(self) -> str:
        where = f"process {self.pid} on {self.host}" if self.pid else "another process"
        return f"{where} ({self.what}, since {self.since})"


class LockBusy(QbsyncError):
    """The lock is held by someone else and the caller would not wait."""

    def __init__(self, name: str, holder: Holder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another task of this process"
        super().__init__(f"the state file is busy ({name} lock): {who} holds it; try again when it is done")


class FileLock:
    """An exclusive lock named by a file path (`<state file>.<purpose>.lock`)."""

    def __init__(self, path: Path, purpose: str) -> None:
        self.path = Path(path)
        self.purpose = purpose
        with _process_locks_guard:
            self._mutex = _process_locks.setdefault(str(self.path.resolve()), threading.Lock())

    @contextmanager
    def held(self, what: str, *, wait: bool = True, on_wait: Callable[[Holder | None], None] | None = None,
             stop: threading.Event | None = None) -> Iterator[None]:
        """Hold the lock for the block. `wait=False` raises LockBusy at once when it is taken;
        otherwise `on_wait(holder)` is called once and the call polls until it is free (or `stop`)."""
        told = False
        while not self._mutex.acquire(timeout=POLL_SECONDS):
            if not wait:
                raise LockBusy(self.purpose, None)
            if not told and on_wait:
                on_wait(Holder(os.getpid(), socket.gethostname(), "another task of this qbsync", ""))
                told = True
            if stop is not None and stop.is_set():
                raise LockBusy(self.purpose, None)
        try:
            handle = self._open_locked(what, wait=wait, on_wait=None if told else on_wait, stop=stop)
            try:
                yield
            finally:
                handle.truncate(0)
                handle.close()  # closing the descriptor releases the flock
        finally:
            self._mutex.release()

    def holder(self) -> Holder | None:
        """Who holds the lock now, or None when it is free."""
        try:
            with open(self.path, "a+") as probe:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return self._read_holder()
                fcntl.flock(probe, fcntl.LOCK_UN)
                return None
        except OSError:
            return None

    def _open_locked(self, what: str, *, wait: bool, on_wait: Callable[[Holder | None], None] | None,
                     stop: threading.Event | None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(descriptor, "r+")
        told = False
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = self._read_holder()
                    if not wait or (stop is not None and stop.is_set()):
                        raise LockBusy(self.purpose, holder) from None
                    if not told and on_wait is not None:
                        on_wait(holder)
                        told = True
                    time.sleep(POLL_SECONDS)
            handle.seek(0)
            handle.truncate(0)
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                     "since": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv[1:3]}))
            handle.flush()
            return handle
        except BaseException:
            handle.close()
            raise

    def _read_holder(self) -> Holder | None:
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return None
        if not data:
            return None
        return Holder(data.get("pid"), str(data.get("host") or "?"), str(data.get("what") or "?"),
                      str(data.get("since") or "?"))
