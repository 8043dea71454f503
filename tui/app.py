"""The operator's TUI: review plans, decide conflicts, approve and apply, audit.

The App owns what every screen shares (the engine session, the plan under review, the outcomes of
the last apply, the connections' status) and runs every engine call in a thread worker; results
come back as messages (tui.messages) and screens follow the App's reactive revision counters. The
engine session is handed in through the constructor (a factory, because opening it reads
rules.yaml, which may be invalid), so tests pass their own.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import Notify
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from engine.plan import Plan
from engine.review import WOULD_HOLD, Outcome

from .applying import Applying
from .deciding import Deciding
from .dialogs.question import Question
from . import settings
from .messages import HistoryFilter, RetriesPosted, SessionOpened
from .reading import LARGE_PLAN, Reading
from .render import minute, no_plan_said
from .retrying import Retrying
from .screens.apply import ApplyScreen
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.overview import OverviewScreen
from .screens.review import ReviewScreen
from .screens.rules import RulesScreen
from .settings import read_theme
from .signing import Signing
from .tallying import Tallying
from .widgets.frame import SCREENS_GROUP

SessionFactory = Callable[[], Any]

class QbsyncApp(Reading, Deciding, Applying, Signing, Tallying, Retrying, App[int]):
    """qbsync's operator console."""

    CSS_PATH = "app.tcss"
    TITLE = "qbsync"
    MODES = {
        "overview": OverviewScreen,
        "review": ReviewScreen,
        "apply": ApplyScreen,
        "history": HistoryScreen,
        "rules": RulesScreen,
    }
    DEFAULT_MODE = "overview"

    BINDINGS = [
        Binding("1", "switch_mode('overview')", "Overview", id="screen.overview", group=SCREENS_GROUP,
                tooltip="Connections, counts, the latest plan and the rules file"),
        Binding("2", "switch_mode('review')", "Review", id="screen.review", group=SCREENS_GROUP,
                tooltip="Review the plan: approve, skip, decide conflicts, map by hand"),
        Binding("3", "switch_mode('apply')", "Apply", id="screen.apply", group=SCREENS_GROUP,
                tooltip="Apply the approved actions and follow their progress"),
        Binding("4", "switch_mode('history')", "History", id="screen.history", group=SCREENS_GROUP,
                tooltip="The audit of every applied action"),
        Binding("5", "switch_mode('rules')", "Rules", id="screen.rules", group=SCREENS_GROUP,
                tooltip="The rules file: problems, reload"),
        Binding("r", "replan", "re-plan", id="plan.replan",
                tooltip="Read both sides again and make a new plan (changes nothing remote)"),
        Binding("L", "latest_plan", "latest plan", id="plan.latest", show=False,
                tooltip="Show the plan another terminal or an unattended run made after the one on screen"),
        Binding("f1", "help", "help", id="app.help", tooltip="Keys and what this screen is for"),
        Binding("ctrl+q", "quit", "quit", id="app.quit", tooltip="Leave qbsync (decisions are already saved)",
                priority=True),
    ]

    plan_label: reactive[str] = reactive("")
    """Top-right label of every screen: the plan under review."""
    status_text: reactive[str] = reactive("")
    """The status line: what is running, or a one-line account of the plan."""
    busy: reactive[str] = reactive("")
    """What the engine is doing now ("" when idle)."""
    plan_revision: reactive[int] = reactive(0, init=False)
    """Bumped when the plan is replaced."""
    decision_revision: reactive[int] = reactive(0, init=False)
    """Bumped when approvals, decisions or outcomes change within the same plan."""
    status_revision: reactive[int] = reactive(0, init=False)
    """Bumped when connections and counts were read again."""
    apply_revision: reactive[int] = reactive(0, init=False)
    """Bumped when an apply made progress, finished or failed."""
    history_revision: reactive[int] = reactive(0, init=False)
    """Bumped when audit rows were read."""
    rules_revision: reactive[int] = reactive(0, init=False)
    """Bumped when the rules file was (re)read, valid or not."""
    holds_revision: reactive[int] = reactive(0, init=False)
    """Bumped when what a run would hold of the plan was asked (Reading.holds_of_plan)."""

    def __init__(self, session_factory: SessionFactory, *, rules_path: str | Path = "rules.yaml",
                 watch_rules: bool = True, rules_poll_seconds: float = 1.0, cursor_blink: bool = True,
                 settings_path: str | Path | None = None, watch_plan: bool = True,
                 plan_poll_seconds: float = 3.0) -> None:
        super().__init__()
        self.settings_path = Path(settings_path) if settings_path else None
        """Where the theme is remembered; None: beside the session's state file, once it is open."""
        self._theme_picked = False  # a theme was picked before the settings file was known
        self.cursor_blink = cursor_blink
        """Whether text cursors blink (tests turn it off so screenshots do not depend on timing)."""
        self._session_factory = session_factory
        self.rules_path = Path(rules_path)
        self.watch_rules, self.rules_poll_seconds = watch_rules, rules_poll_seconds
        self.watch_plan, self.plan_poll_seconds = watch_plan, plan_poll_seconds  # Reading.check_plan_elsewhere
        self.session: Any = None
        self.plan: Plan | None = None
        self.outcomes: dict[str, Outcome] = {}
        self.status: dict[str, Any] | None = None
        self.last_sync: dict[str, Any] | None = None
        self.history_rows: list[dict[str, Any]] = []
        self.history_filter = HistoryFilter()
        # The History screen lists the latest entries as asked: a first sync of 100,000 records
        # is 260,000 entries, which the screen says it cut (days and records narrow them).
        self.history_limit = 10_000
        self.history_cut = False  # older entries than those listed were left out
        self.rules_error: Exception | None = None
        # The apply screen's live list: results as they come, in order, for the plan in `apply_plan_id`.
        self.apply_results: list[Any] = []
        self.apply_plan_id: str | None = None
        self.apply_progress: tuple[int, int] = (0, 0)
        self.apply_running = False
        self.apply_report: Any = None
        self.apply_error: Exception | None = None
        # The session serves one caller at a time: the state file is shared by the UI's workers.
        self._engine = threading.Lock()
        # Approvals and decisions wait here until a worker writes them (last one per action wins).
        self._pending: dict[str, dict[str, Any]] = {}
        self._pending_lock = threading.Lock()
        self._flushing = False
        self.plan_seen: int | None = None  # the plan's changes of approvals as last read (check_plan_elsewhere)
        self.newer_plan: str | None = None  # a later plan made elsewhere, said once (Reading.action_latest_plan)
        self._rules_mtime: float | None = None
        self._status_timer: Any = None
        self._tally_loaded(None)
        # The Not-mapped list (I4): items mapped from it in this session (its running count), the
        # filter last typed there, and the mapping under way that came from it (the list reopens after).
        self.items_mapped: set[str] = set()
        self.not_mapped_query = ""
        self._mapping_from_list: str | None = None
        self.signoff_path: dict[str, str] = {}  # plan id -> its file last written or read back (Signing)
        # Set to stop the apply (or the plan) under way at its next safe point (quitting, W3).
        self._apply_stop = threading.Event()
        self._plan_stop = threading.Event()
        self._quit_when_stopped = False
        self.opened_waiting = False
        """Whether the TUI already opened on what a run would hold (it does once, when runs held something)."""
        self.unfinished: dict[str, Any] | None = None
        """The last apply run, when it did not finish (killed or stopped): its plan is reviewed first."""

    # -- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._retries = RetriesPosted(self).attach()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.settings_path is not None:
            self.load_settings(self.settings_path)
        self.busy = "opening the session…"
        self._rules_mtime = self._mtime()
        self.open_session()
        if self.watch_rules:
            self.set_interval(self.rules_poll_seconds, self._check_rules_file)
        if self.watch_plan:
            self.set_interval(self.plan_poll_seconds, self.check_plan_elsewhere)

    def on_unmount(self) -> None:
        self._retries.detach()
        if self.session is not None and self._engine.acquire(timeout=5):
            try:
                self.session.close()
            finally:
                self._engine.release()

    def _mtime(self) -> float | None:
        try:
            return self.rules_path.stat().st_mtime
        except OSError:
            return None

    def _check_rules_file(self) -> None:
        mtime = self._mtime()
        if mtime != self._rules_mtime:
            self._rules_mtime = mtime
            self.notify(f"{self.rules_path.name} changed on disk: reloading", timeout=3)
            self.reload_rules()

    # -- settings --------------------------------------------------------------------------------

    def load_settings(self, path: Path) -> None:
        """Use the theme remembered in `path`; from now on a theme picked is remembered there."""
        self.settings_path = path
        if self._theme_picked:  # picked while the path was unknown (the first instants): that pick wins
            self._save_settings()
            return
        theme = read_theme(path)
        if theme in self.available_themes:  # else the default theme
            self.theme = theme

    @on(SessionOpened)
    def _settings_beside_the_state(self, message: SessionOpened) -> None:
        # (Reading.on_session_opened handles the rest of this message.)
        state_path = getattr(message.session, "state_path", None)
        if self.settings_path is None and state_path is not None:
            self.load_settings(settings.beside(state_path))

    def _theme_changed(self, _theme: Any) -> None:
        if self.settings_path is None:
            self._theme_picked = True
        else:
            self._save_settings()

    def _save_settings(self) -> None:
        assert self.settings_path is not None
        try:
            settings.write_theme(self.settings_path, self.theme)
        except OSError as exc:
            self.notify(f"The theme could not be remembered: {exc}", severity="warning", timeout=6)

    # -- notifications ---------------------------------------------------------------------------

    @on(Notify)
    def _one_toast_at_a_time(self, event: Notify) -> None:
        """The newest notification replaces the one on screen; an error stays until its timeout.

        A stack of toasts is old news hiding the screen: an operator reads the latest line (what the
        key just did, or why it did nothing). Errors are rare and need reading, so a newer message
        does not take one away. Toasts sit at the top right, one line high when the message is
        short (app.tcss), away from the detail panes at the bottom.
        """
        new = event.notification
        for old in list(self._notifications):
            if old is not new and (old.severity != "error" or new.severity == "error"):
                self._unnotify(old, refresh=False)
        self._refresh_notifications()

    # -- status line -----------------------------------------------------------------------------

    def watch_busy(self) -> None:
        self._update_status_text()

    def _update_status_text(self) -> None:
        if self.busy:
            self.status_text = "⟳ " + self.busy + self.retry_note()
            return
        plan = self.plan
        if plan is not None and len(plan.actions) > LARGE_PLAN and not self.counted_now():
            # A full count per keypress would make approving feel slow on a huge plan: count once
            # the keys stop (in a worker).
            if self._status_timer is not None:
                self._status_timer.stop()
            self._status_timer = self.set_timer(0.2, self._count_status_text)
            return
        self._count_status_text()

    def _count_status_text(self) -> None:
        self._status_timer = None
        if self.busy:
            return
        plan = self.plan
        if plan is None:
            self.status_text = no_plan_said(self.status) if self.session else (
                "The rules file has problems: see 5 Rules." if self.rules_error else "")
            return
        tally = self.tally_when_counted(then=self._count_status_text)
        if tally is None:
            self.status_text = f"{len(plan.actions):,} actions · counting…"
            return
        summary, undecided = tally.summary, tally.undecided
        # The plan's id is on the tab bar: without it here, the whole line fits 80 columns.
        parts = [f"{len(plan.actions):,} actions",
                 # Once applied, what it wrote is history: how far the apply got says more.
                 f"{tally.applied:,} of {summary.actions:,} applied" if tally.applied else
                 f"writes {summary.writes('quickbooks'):,} QuickBooks · {summary.writes('precoro'):,} Precoro"]
        if undecided:
            parts.append(f"{undecided:,} conflict{'s' if undecided != 1 else ''} to decide")
        failed = sum(1 for o in self.outcomes.values() if o.status in ("failed", "refused"))
        if failed:
            parts.append(f"{failed:,} failed")
        self.status_text = " · ".join(parts)

    def _plan_changed(self) -> None:
        plan = self.plan
        self.plan_label = f"plan {plan.id} · {minute(plan.created_at)}" if plan else ""
        self._tally_loaded(plan)
        self._update_status_text()

    # -- actions and commands --------------------------------------------------------------------

    def action_replan(self, full: bool = False) -> None:
        if self.session is None:
            self.notify("No session: fix the rules file first (5 Rules).", severity="warning")
            return
        self.load_plan(fresh=True, full=full)

    async def action_quit(self) -> None:
        if self._quit_when_stopped:
            return  # already stopping
        if not self.apply_running:
            self._plan_stop.set()  # a plan being read ends within a page; nothing of it is saved
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                # Never leave a writer behind: the apply stops between two writes, then qbsync quits.
                self._quit_when_stopped = True
                self._apply_stop.set()
                self.busy = "stopping the apply after the current write, then quitting…"

        self.push_screen(stop_and_quit_question(), answered)

    async def action_waiting(self) -> None:
        """U3: the Review, showing only what waits for a person: what a run would hold."""
        await self.switch_mode("review")
        if isinstance(self.screen, ReviewScreen):
            self.screen.show_only(WOULD_HOLD)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    def get_key_display(self, binding: Binding) -> str:
        display = super().get_key_display(binding)
        return display.upper() if display[:1] == "f" and display[1:].isdigit() else display

    def action_refresh_status(self) -> None:
        self.load_status()

    def action_reload_rules(self) -> None:
        self.reload_rules()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A dialog is a question: while it is open, keys meant for the screens underneath do nothing.
        if isinstance(self.screen, ModalScreen) and \
                action in ("switch_mode", "replan", "latest_plan", "apply", "help"):
            return action == "help" and isinstance(self.screen, HelpScreen)
        if action == "quit" and isinstance(self.screen, Question):
            return False
        return True

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: this screen's commands first, then moving around, then Textual's own."""
        seen: set[str] = set()
        for _key, (node, binding, enabled, _tooltip) in screen.active_bindings.items():
            if node is self or not binding.show or not enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            yield SystemCommand(_title(binding.description), binding.tooltip or binding.description,
                                partial(self.run_action, binding.action, node))
        for mode, title in (("overview", "Overview"), ("review", "Review"), ("apply", "Apply"),
                            ("history", "History"), ("rules", "Rules")):
            yield SystemCommand(f"Go to {title}", f"Switch to the {title} screen", partial(self.switch_mode, mode))
        yield SystemCommand("Re-plan", "Read what changed on both sides and make a new plan", self.action_replan)
        yield SystemCommand("Re-plan reading everything", "Read every record of both sides again (plan --full)",
                            partial(self.action_replan, full=True))
        yield SystemCommand("Reload rules", "Read rules.yaml again and re-plan", self.reload_rules)
        yield SystemCommand("Apply…", "Apply the approved actions of the plan (asks first)", self.action_apply)
        yield SystemCommand("Light or dark", "Switch between the light and the dark theme", self.action_toggle_dark)
        yield from super().get_system_commands(screen)


def stop_and_quit_question() -> Question:
    """Asked when quitting while an apply runs (W3)."""
    return Question("An apply is running. Stop it and quit?",
                    "It stops between two writes, with nothing half recorded. Running the same apply "
                    "again finishes the rest without writing anything twice.")


def _title(description: str) -> str:
    return description[:1].upper() + description[1:]


def run_app(session_factory: SessionFactory, rules_path: Path, state_path: Path | None = None) -> int:
    """`qbsync` / `qbsync tui`: open the TUI on the session the factory makes (the CLI builds it).

    With `state_path`, the remembered theme is used from the first frame; without it, from when the
    session is open (it knows its state file).
    """
    app = QbsyncApp(session_factory, rules_path=rules_path,
                    settings_path=settings.beside(state_path) if state_path else None)
    result = app.run()
    return int(result or 0)
