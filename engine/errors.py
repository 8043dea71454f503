"""Every error qbsync reports to an operator: one hierarchy, each with its message and an exit code.

The faces (CLI, TUI) catch `QbsyncError` and show `str(error)` as it is: one line that says what
happened and what to do. Anything else that escapes is a bug, not a message. The API clients'
typed errors (`engine.clients.errors.ApiError` and its kinds) are QbsyncErrors too.
"""

from __future__ import annotations

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a ctrl+c


class QbsyncError(Exception):
    """An error with a message for the operator and an exit code for scripts."""

    exit_code = EXIT_ERROR


class UsageError(QbsyncError):
    """The command asked for something that does not exist or is turned off (an unknown entity)."""


class PlanNotFound(QbsyncError):
    """No saved plan with that id (or no plan at all yet), or no such action in it."""


class StalePlanError(QbsyncError):
    """The plan no longer fits the rules or the company it was made for: make a new one."""


class SupersededPlan(StalePlanError):
    """Another plan was applied after this one was made (W6): its view of the state is out of date."""


class ApprovalsChanged(QbsyncError):
    """What an apply would run is no longer what the operator confirmed: another terminal or an
    unattended run approved, skipped or decided actions of the plan meanwhile. Nothing was written."""


class SafetyLimitExceeded(QbsyncError):
    """The plan changes a larger share of linked records than rules.yaml's `safety` allows."""


class MappingRefused(QbsyncError):
    """A manual map or unmap that the rules or the data do not allow; the message says why."""


class DecisionRefused(QbsyncError):
    """A decision, approval or skip that does not fit the action (a decision on a non-conflict, say)."""


class Interrupted(QbsyncError):
    """The operator stopped the work; nothing was left half done."""

    exit_code = EXIT_INTERRUPTED


class ReadsCutShort(QbsyncError):
    """A plan's reads stopped at a service's cap (`cap`, a RateLimited): nothing was planned, what
    was read is kept."""

    def __init__(self, message: str, cap) -> None:
        super().__init__(message)
        self.cap = cap


class StateFileError(QbsyncError):
    """The state file cannot be opened or written (a directory, a read-only disk, no permission)."""


def database_file_error(exc: BaseException, path: object, what: str = "the state file") -> StateFileError | None:
    """The error to report when sqlite says something of the file itself (`exc.sqlite_errorname`):
    the disk is full, the file cannot be written or read, it is damaged, another process holds it.
    None for anything else (a failed statement is a bug, not a message). Each says what to do."""
    name = "_".join(str(getattr(exc, "sqlite_errorname", "")).split("_")[:2])  # SQLITE_IOERR_WRITE -> SQLITE_IOERR
    name = {"SQLITE_LOCKED": "SQLITE_BUSY"}.get(name, name)
    said = f"{what} {path}"
    problem = {
        "SQLITE_FULL": f"cannot write {said}: the disk is full. Free some space, then run it again",
        "SQLITE_IOERR": f"cannot write or read {said}: {exc}. Look at its disk (free space, a limit on file "
                        "sizes, a network mount), then run it again",
        "SQLITE_READONLY": f"cannot write {said}: it is read-only. Make it writable, then run it again",
        "SQLITE_CANTOPEN": f"cannot open {said}: {exc}. Make its folder writable, then run it again",
        "SQLITE_BUSY": f"{said} is busy: another process has been writing it for 30 s or more. Run it again "
                       "once that is done",
        "SQLITE_CORRUPT": f"{said} is damaged ({exc}). Move it aside (keep it for a look) and run it again: qbsync "
                          "starts a new one",
        "SQLITE_NOTADB": f"{said} is not a database qbsync can use ({exc}). Move it aside, or choose another file",
    }.get(name)
    if problem is None:
        return None
    # sqlite rolls back the transaction it was in: what was kept before it stays, nothing is half written.
    return StateFileError(f"{problem} (nothing was half written)")


class InsecureStateFile(StateFileError):
    """The state file can be read by other users while it may hold tokens."""


class NotConnected(QbsyncError):
    """A side has no usable connection (credentials missing, or stored for another company)."""

    def __init__(self, message: str, side: str | None = None) -> None:
        super().__init__(message)
        self.side = side  # "quickbooks" | "precoro" | None


class ConnectRefused(QbsyncError):
    """A `connect` that cannot finish: the operator's answer, the state check or the service said no."""
