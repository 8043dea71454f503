"""Issue 14: `qbsync web` in a real headless Chromium. The page loads and shows the Overview of the
demo companies, a key press reaches the app, and the token is written nowhere but its one line."""

from __future__ import annotations

import signal
import time
from pathlib import Path

OVERVIEW = ("1 Overview", "Chart of accounts", "Suppliers", "Approved to apply")


def test_the_browser_shows_the_overview_and_a_key_reaches_the_app(web, page, terminal):
    page.goto(web.url)
    # The token is traded for a cookie and leaves the address bar (and so the history).
    assert web.token not in page.url and page.url.rstrip("/") == web.base

    # The TUI's Overview, on a session it opened on the embedded local APIs (both sides reachable).
    overview = terminal.wait_for(*OVERVIEW, "✓ reachable")
    assert "Local Company" in overview

    page.locator("#terminal").click()  # the operator clicks into the terminal, then types
    page.keyboard.press("5")  # 5: the Rules screen
    # The Rules screen, and its own key in the footer (which follows the screen a refresh later).
    terminal.wait_for("version: 1", "connections:", "l reload", gone=("Chart of accounts",))

    page.keyboard.press("1")
    terminal.wait_for(*OVERVIEW)

    # ctrl+c while a browser session is open: a clean stop, not a traceback.
    assert _tuis_on(web.workdir, within=0)  # the session's own `qbsync tui`, on these rules
    started = time.monotonic()
    assert web.stop(signal.SIGINT) == 0
    assert time.monotonic() - started < 10
    errors = "".join(web.stderr)
    assert "Traceback" not in errors and "qbsync web: stopped" in errors
    assert _tuis_on(web.workdir, within=5) == []  # the session's `qbsync tui` went with it

    # The token: in the one line that prints the address, and nowhere else the server wrote.
    written = web.stdout + web.stderr
    assert [line for line in written if web.token in line] == [f"qbsync web: open {web.url}\n"]
    for path in web.workdir.rglob("*"):  # the state, the local APIs' data, the TUI's settings
        if path.is_file():
            assert web.token.encode() not in path.read_bytes(), path


def test_a_session_ends_when_the_tui_quits_and_the_page_says_so(web, page, terminal):
    page.goto(web.url)
    terminal.wait_for(*OVERVIEW)
    page.locator("#terminal").click()
    page.keyboard.press("Control+q")
    page.locator(".closed-dialog").get_by_text("Session ended.").wait_for(state="visible", timeout=30_000)
    # The server outlives the session: the page's Restart opens a new one.
    page.get_by_role("button", name="Restart").click()
    terminal.wait_for(*OVERVIEW)
    assert "Chart of accounts" in terminal.text()


def _tuis_on(workdir: Path, within: float) -> list[str]:
    """The command lines of processes still running on this workdir's rules, once none are left or
    `within` seconds passed."""
    rules = str((workdir / "rules.yaml").resolve()).encode()
    deadline = time.monotonic() + within
    while True:
        left = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes()
            except OSError:  # it ended while we looked
                continue
            if rules in argv:
                left.append(argv.replace(b"\0", b" ").decode(errors="replace"))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
