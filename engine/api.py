"""The engine's API as both faces use it: what a session offers the CLI and the TUI.

`SyncSession` implements it over the real services; the TUI's tests use a stand-in implementing
it over fixed data. A test holds both to this Protocol, so the stand-in cannot drift from the
engine (and a screen cannot call what the engine does not offer).
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from rules.model import Rules

from .locks import Holder
from .plan import Action, Plan
from .review import Outcome
from .signoff import SignOff, SignOffFile

Progress = Callable[[str, int, int | None], None]


class SyncAPI(Protocol):
    rules_path: Path
    rules: Rules

    def plan(self, only: Iterable[str] | None = None, progress: Progress | None = None, *, wait: bool = True,
             on_wait: Callable[[Holder | None], None] | None = None, stop: threading.Event | None = None,
             full: bool = False, until_done: bool = False,
             on_cap: Callable[[str, float], None] | None = None) -> Plan:
        """Read what changed on both sides (`full`: everything) and save a new plan, or return the
        latest one when nothing changed since it was made; changes nothing remote. A rate cap met
        while reading is waited out (`on_cap` counts down; the daily one only with `until_done`)."""

    def plan_to_review(self) -> tuple[Plan | None, dict[str, Outcome]]:
        """The plan an operator should look at now (None: make a new one), and its outcomes so far."""

    def plan_with_outcomes(self, plan_id: str | None) -> tuple[Plan, dict[str, Outcome]]:
        """A saved plan, listed, with what applies did with its actions."""

    def plan_revision(self, plan_id: str) -> int:
        """How many times the plan's approvals and decisions changed and its applies ended, in any process."""

    def latest_plan(self) -> Plan | None:
        """The latest sync plan, whatever happened to it."""

    def reopen_if_replaced(self) -> bool:
        """Open the state file again if another process deleted or replaced it (True when it did)."""

    def latest_plan_id(self) -> str | None:
        """The id of the latest sync plan (None: none yet), without reading it: one look, cheap to repeat."""

    def load_plan(self, plan_id: str | None = None, *, listed: bool = False) -> Plan:
        """A saved plan by id or prefix (the latest sync plan by default). `listed`: as a large plan
        is shown, its actions listed and read whole only when looked at, with its tally."""

    def decide(self, action_id: str, decision: str, plan_id: str | None = None) -> Any:
        """Decide a conflict: precoro, quickbooks or skip."""

    def decide_all(self, action_ids: Iterable[str], decision: str, plan_id: str | None = None) -> Any:
        """Decide conflicts alike, in one write."""

    def approve(self, action_ids: Iterable[str], approved: bool = True, plan_id: str | None = None) -> Any:
        """Approve actions, or skip them (approved=False)."""

    def apply(self, plan_id: str | None = None, *, on_result: Callable | None = None, retry_failed: bool = False,
              force: bool = False, wait: bool = True, on_wait: Callable[[Holder | None], None] | None = None,
              stop: threading.Event | None = None, until_done: bool = False,
              on_cap: Callable[[str, float], None] | None = None, confirmed: str | None = None) -> Any:
        """Apply the approved actions of a saved plan, exactly once, waiting out rate caps; none
        when they are not what the operator `confirmed` (an approvals_digest)."""

    def actions_of(self, plan_id: str | None = None) -> Iterable[Action]:
        """Every action of a plan, whole and in order (a page at a time)."""

    def sign_off(self, signed: SignOffFile, plan_id: str | None = None) -> SignOff:
        """Record what a reviewer changed in the plan's CSV (engine.signoff); refused rows by line."""

    def map_plan(self, section: str, precoro_id: str, quickbooks_id: str) -> Plan:
        """A plan that links two records by hand."""

    def unmap_plan(self, section: str, precoro_id: str) -> Plan:
        """A plan that unlinks a record by hand."""

    def unmapped_items(self, limit: int = 5, progress: Progress | None = None) -> list[dict[str, Any]]:
        """The Not-mapped list, with ranked QuickBooks candidates."""

    def unfinished_apply(self) -> dict[str, Any] | None:
        """The last apply, when it did not finish."""

    def history(self, record: str | None = None, limit: int | None = None, *, plan_id: str | None = None,
                statuses: Iterable[str] = (), since: date | None = None, until: date | None = None,
                entity: str | None = None, kind: str | None = None) -> list[dict]:
        """The audit, newest first: of one record, one plan, these statuses, of the days from
        `since` to `until` (both included, UTC as it is recorded), of one entity (its kind:
        "supplier") and one kind of action."""

    def explain(self, entity: str, record: str, *, history: int, live: bool = False) -> dict[str, Any]:
        """One record's story from the state file (engine.explain): both sides as last read, its
        link, the latest plan's actions on it and what became of them, its `history` latest entries;
        `live`: its sides read now (one request each), not as the last plan read them."""

    def runs(self, *, limit: int | None = None, since: date | None = None, failed: bool = False) -> list[dict]:
        """Unattended runs, newest first, each with its summary (`qbsync runs`)."""

    def would_hold(self, plan_id: str | None = None) -> dict[str, str]:
        """What `qbsync run` would hold of a saved plan were it run now: action id -> why (U2)."""

    def status(self, *, look: bool = True) -> dict[str, Any]:
        """Connections, counts and the latest plan; `look=False`: the connections as the state file
        knows them, with no request."""

    def reload_rules(self) -> Rules:
        """Read rules.yaml again (keeps the old rules when it is invalid)."""

    def close(self) -> None:
        """Close the state file and the connections."""
