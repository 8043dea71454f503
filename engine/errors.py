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


class InsecureStateFile(StateFileError):
    """The state file can be read by other users while it may hold tokens."""


class NotConnected(QbsyncError):
    """A side has no usable connection (credentials missing, or stored for another company)."""

    def __init__(self, message: str, side: str | None = None) -> None:
        super().__init__(message)
        self.side = side  # "quickbooks" | "precoro" | None


class ConnectRefused(QbsyncError):
    """A `connect` that cannot finish: the operator's answer, the state check or the service said no."""
