"""Messages the engine workers send back to the UI thread, named after what already happened."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from textual.message import Message

from engine.clients.retry import log as retry_log
from engine.plan import Plan
from engine.review import Outcome


class SessionOpened(Message):
    """The engine session is ready (rules loaded, state file open)."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session


class SessionFailed(Message):
    """The engine session could not be opened; `error` says why (often a RulesError)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class StatusLoaded(Message):
    """Connections, counts and the latest plan's state were read."""

    def __init__(self, status: dict[str, Any], last_sync: dict[str, Any] | None) -> None:
        super().__init__()
        self.status = status
        self.last_sync = last_sync


class PlanProgressed(Message):
    """Planning moved on (reading a side, reconciling an entity)."""

    def __init__(self, what: str, done: int, total: int | None) -> None:
        super().__init__()
        self.what = what
        self.done = done
        self.total = total


class PlanLoaded(Message):
    """A plan is ready for review; `made` when the operator asked for a new one (r, a reload, a map)."""

    def __init__(self, plan: Plan, outcomes: dict[str, Outcome], made: bool, revision: int | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.outcomes = outcomes
        self.made = made
        self.revision = revision  # its approvals' and decisions' changes when read (SyncAPI.plan_revision)


class StateFileReopened(Message):
    """Another process deleted or replaced the state file; the session opened it again as it now is."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class PlanChangedElsewhere(Message):
    """Another terminal changed the approvals or decisions of the plan on screen, or applied it (-1:
    it can no longer be applied, another plan having been applied since, or newer plans having
    replaced it a day ago); `latest`: the latest sync
    plan, a newer one than that on screen when another terminal (or an unattended run) made one."""

    def __init__(self, plan_id: str, revision: int, latest: str | None) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.revision = revision
        self.latest = latest


class PlanningFailed(Message):
    """Making or loading a plan failed (`making`: which of the two)."""

    def __init__(self, error: Exception, making: bool = True) -> None:
        super().__init__()
        self.error = error
        self.making = making


class DecisionsSaved(Message):
    """Approvals and conflict decisions reached the state file."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count


class DecisionsFailed(Message):
    """Saving approvals or decisions failed; the plan is read back from the state file."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class ActionsApplied(Message):
    """A batch of actions got their outcome during an apply."""

    def __init__(self, plan_id: str, results: list[Any], done: int, total: int) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.results = results
        self.done = done
        self.total = total


class ApplyFinished(Message):
    """An apply ran to its end (or stopped cleanly); `report` is the engine's ApplyReport."""

    def __init__(self, plan_id: str, report: Any, purpose: str) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.report = report
        self.purpose = purpose


class ApplyFailed(Message):
    """An apply could not start or broke off (a stale plan, a lost connection)."""

    def __init__(self, plan_id: str, error: Exception, purpose: str) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.error = error
        self.purpose = purpose


class MappingPlanned(Message):
    """A manual map or unmap was planned and waits for the operator's confirmation."""

    def __init__(self, plan: Plan, title: str, notes: list[str] | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.title = title
        self.notes = list(notes or [])


class MappingFailed(Message):
    """A manual map or unmap was refused; `error` says why."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class SignedOff(Message):
    """A plan was written for sign-off (`what` "write": `result` the rows written) or a signed file
    read back ("read": `result` the engine.signoff.SignOff recorded)."""

    def __init__(self, plan_id: str, what: str, path: str, result: Any) -> None:
        super().__init__()
        self.plan_id = plan_id
        self.what = what
        self.path = path
        self.result = result


class SignOffFailed(Message):
    """The file could not be written or read back (it exists already, a bad header); nothing changed."""

    def __init__(self, what: str, error: Exception) -> None:
        super().__init__()
        self.what = what
        self.error = error


class UnmappedItemsLoaded(Message):
    """The Not-mapped list was read: unlinked Precoro items with ranked QuickBooks candidates (I4)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__()
        self.items = items


@dataclass(frozen=True)
class HistoryFilter:
    """What the History screen shows of the audit: one record's entries (its id, or part of its
    name) or every record's; only what did not go through (failed, refused); the days from `since`
    to `until`, both included (UTC, as the audit records them); one plan's entries; one entity's
    (its kind: "supplier"); one kind of action's ("create")."""

    record: str | None = None
    undone: bool = False
    since: date | None = None
    until: date | None = None
    plan_id: str | None = None
    entity: str | None = None
    kind: str | None = None


class HistoryLoaded(Message):
    """Audit rows were read."""

    def __init__(self, rows: list[dict[str, Any]], asked: HistoryFilter, *, cut: bool) -> None:
        super().__init__()
        self.rows = rows
        self.asked = asked
        self.cut = cut  # older entries than these were left out


class RecordExplained(Message):
    """One record's story was read (`SyncSession.explain`), or could not be: `error` says why."""

    def __init__(self, said: dict[str, Any] | None, error: Exception | None = None, *,
                 asked: tuple[str, str] = ("", "")) -> None:
        super().__init__()
        self.said = said
        self.error = error
        self.asked = asked  # (entity, record) as asked, to ask again


class RunsListed(Message):
    """The unattended runs were read (`SyncSession.runs`), or could not be: `error` says why."""

    def __init__(self, runs: list[dict[str, Any]] | None, error: Exception | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.error = error


class PlanJudged(Message):
    """What `qbsync run` would hold of a plan (`SyncSession.would_hold`), asked for `key` (the plan and
    its revisions); `error` says why it could not be asked."""

    def __init__(self, key: tuple[str, int, int], holds: dict[str, str], error: Exception | None = None) -> None:
        super().__init__()
        self.key = key
        self.holds = holds
        self.error = error


class RulesReloaded(Message):
    """rules.yaml was read again and is valid."""


class RulesRefused(Message):
    """rules.yaml was read again and has problems; the rules in force did not change."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class RequestRetried(Message):
    """A request to a service failed and is tried again (a line of the engine's retry log, and
    its fields: engine.clients.retry.Retry, or None)."""

    def __init__(self, text: str, retry: Any = None) -> None:
        super().__init__()
        self.text = text
        self.retry = retry


class RetriesPosted(logging.Handler):
    """Each retry the engine logs, posted to `app` as RequestRetried from whichever thread made the
    request: the TUI's screen stands where the CLI's stderr does (an unreachable service is
    otherwise a busy line that says nothing for fifteen seconds)."""

    def __init__(self, app: Any) -> None:
        super().__init__(logging.INFO)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        self.app.post_message(RequestRetried(record.getMessage(), getattr(record, "retry", None)))

    def attach(self) -> "RetriesPosted":
        retry_log.addHandler(self)
        retry_log.setLevel(logging.INFO)
        return self

    def detach(self) -> None:
        retry_log.removeHandler(self)
