"""Rules: is rules.yaml valid, and if not, each problem at its line and column with the line itself."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

import rules
from engine.review import source_line
from ..render import no_rules_file, plural, shown_path

from .base import QbsyncScreen


def problems_of(error: Exception) -> list[Any]:
    """RuleProblem-like items (path, line, column, message) of a RulesError; one line otherwise."""
    problems = getattr(error, "problems", None)
    if problems:
        return list(problems)
    return []


def describe_problems(error: Exception, text: str | None) -> Group:
    parts: list[Any] = []
    problems = problems_of(error)
    if not problems:
        said = f"{no_rules_file(error.filename)} (i here); qbsync reads it once it is there" \
            if isinstance(error, FileNotFoundError) and error.filename else str(error)
        parts.append(Text(said, style="bold red"))
        return Group(*parts)
    noun = "problem" if len(problems) == 1 else "problems"
    parts.append(Text(f"{len(problems)} {noun}; nothing runs on a half-valid file. The rules in force did not change.",
                      style="bold"))
    for problem in problems:
        parts.append(Text(""))
        head = Text()
        head.append(f"{problem.path}:{problem.line}:{problem.column}: ", style="bold red")
        head.append(problem.message)
        parts.append(head)
        line = source_line(text, problem.line) if text is not None else None
        if line is not None:
            number = f"{problem.line:>5} │ "
            shown = line.expandtabs(1)
            parts.append(Text(number + shown, no_wrap=True, overflow="ellipsis"))
            parts.append(Text(" " * (len(number) + max(0, problem.column - 1)) + "^", style="bold red"))
    return Group(*parts)


def numbered(text: str | None, marked: set[int] = frozenset()) -> Text:
    """The file with line numbers; lines with a problem are marked."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if text is None:
        return out
    lines = text.splitlines()
    width = len(str(len(lines)))
    for number, line in enumerate(lines, 1):
        flag = "✗" if number in marked else " "
        out.append(f"{flag}{number:>{width}} │ ", style="bold red" if number in marked else "dim")
        out.append(line.expandtabs(1) + "\n", style="bold" if number in marked else None)
    return out


def describe_rules(rules: Any, path: str) -> Group:
    parts: list[Any] = [Text(f"{path} is valid and in force.", style="bold green")]
    try:
        connections = rules.connections
        parts.append(Text(f"QuickBooks: {connections.quickbooks.environment} · Precoro: {connections.precoro.environment}"))
        for section in ("suppliers", "items"):
            entity = rules.entity(section)
            if not entity.enabled:
                parts.append(Text(f"{section}: not synced", style="dim"))
                continue
            creates = [side for side, allowed in (("QuickBooks", entity.create.in_quickbooks),
                                                  ("Precoro", entity.create.in_precoro)) if allowed]
            parts.append(Text(
                f"{section}: {plural(len(entity.fields), 'field')} · match on {' + '.join(entity.match.keys)} · "
                f"conflicts: {entity.conflict} · creates in {' and '.join(creates) or 'neither side'}"))
        parts.append(Text(f"digest {rules.digest[:12]}", style="dim"))
    except Exception:  # a session without typed rules (tests) still shows the headline
        pass
    return Group(*parts)


class RulesScreen(QbsyncScreen):
    TAB = "rules"
    HELP = (
        "The rules file and whether it is valid. A file with problems is refused as a whole: each problem is "
        "shown with file:line:column and the offending line. qbsync reloads the file when it changes on disk "
        "(and makes a new plan); l reloads it now."
    )

    BINDINGS = [
        Binding("l", "app.reload_rules", "reload", id="rules.reload",
                tooltip="Read the rules file again and, when valid, make a new plan"),
        Binding("i", "write_starter", "write a commented start", id="rules.init",
                tooltip="No rules file yet: write the one qbsync ships with (the local APIs with demo data), "
                        "as `qbsync init` does"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "write_starter":  # only while there is no file: never over the operator's own
            return isinstance(self.app.rules_error, FileNotFoundError)
        return True

    def action_write_starter(self) -> None:
        path = self.app.rules_path
        try:
            rules.write_starter(path)  # this screen then shows it, valid and in force
        except OSError as exc:  # written meanwhile (the file is then read as it is), or a folder not writable
            self.notify(f"Nothing was written to {path}: {exc.strerror or exc}", severity="warning", timeout=8)
        self.app.reload_rules()

    def compose_body(self) -> ComposeResult:
        yield Static(id="rules-head")
        with VerticalScroll(id="rules-body"):
            yield Static(id="rules-problems")

    def on_mount(self) -> None:
        self.watch(self.app, "rules_revision", lambda _revision: self.when_shown(self.redraw), init=False)
        self.redraw()

    def redraw(self) -> None:
        app = self.app
        self.refresh_bindings()  # i comes and goes with the file (check_action)
        path = shown_path(app.rules_path)
        head = Text()
        head.append(path, style="bold")
        watching = "watching for changes" if app.watch_rules else "not watching for changes"
        if app.rules_error is not None:
            head.append("  ✗ not valid", style="bold red")
        elif app.session is not None:
            head.append("  ✓ valid", style="bold green")
        else:
            head.append("  … reading")
        head.append(f"  · {watching}", style="dim")
        self.query_one("#rules-head", Static).update(head)
        body = self.query_one("#rules-problems", Static)
        try:
            text = app.rules_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
        if app.rules_error is not None:
            marked = {p.line for p in problems_of(app.rules_error)}
            body.update(Group(describe_problems(app.rules_error, text), Text(""), numbered(text, marked)))
        elif app.session is not None:
            body.update(Group(describe_rules(getattr(app.session, "rules", None), path), Text(""), numbered(text)))
        else:
            body.update("")
