"""u on the Overview: the unattended runs, newest first, as `qbsync runs` lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.budgets import duration
from engine.run import EXIT_ERROR, RESULTS


class RunsDialog(ModalScreen[None]):
    """What each recent run did: when, what started it, its result, what it applied, held and failed,
    and why it failed or stopped. Read only; a run's held actions are behind w (what a run would hold)."""

    BINDINGS = [Binding("escape,u,q", "close", "close", id="runs.close", tooltip="Back to the overview")]

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="help"):
            yield Static(Text("Unattended runs, newest first", style="bold"), id="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(run_lines(self.runs) if self.runs else
                             Text("No unattended run yet: `qbsync run` on a timer (docs/unattended.md)."))
            yield Static(Text("esc closes · ↑ ↓ scroll · runs are kept 90 days (`qbsync runs`)",
                              style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-body", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)


STYLES = {"ok": "green", "held": "yellow", "FAILED": "bold red"}


def run_lines(runs: list[dict[str, Any]]) -> Text:
    """Two lines a run, to fit a dialog at 80 columns: when, what started it, its result and how long
    it took; then what it did, and why it failed or stopped (wrapped, never cut)."""
    text = Text()
    for run in runs:
        s = run["summary"] or {}
        counts = s.get("counts") or {}
        result = RESULTS.get(run["exit_code"], "running" if run.get("running") else "unfinished")
        style = STYLES.get(result, "dim")
        took = (duration((datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"]))
                         .total_seconds()) if run["finished_at"] else "")
        text.append(f"{run['started_at'][:16].replace('T', ' ')}  {run['trigger']:<8}  ")
        text.append(f"{result:<10}", style=style)
        text.append(f" {took}\n")
        did = [f"plan {run['plan_id']}"] if run["plan_id"] else []
        did += [f"applied {counts.get('applied', 0):,}", f"held {s.get('held', 0):,} ({s.get('new_held', 0):,} new)"]
        failed = counts.get("failed", 0) + counts.get("refused", 0)
        if failed:
            did.append(f"failed {failed:,}")
        text.append("    " + " · ".join(did) + "\n", style="dim")
        note = s.get("error") or s.get("stopped")
        if note:
            text.append(f"    {note}\n", style=style if run["exit_code"] == EXIT_ERROR else "")
    text.rstrip()
    return text
