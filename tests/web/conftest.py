"""`qbsync web` in a subprocess, and a real headless Chromium to open it.

Chromium is Debian's (`/usr/bin/chromium`), not Playwright's own download: that needs a network this
project's machines may not have. A fresh machine has none, so when the tests run as root with apt-get
they install it once (the xdist workers take turns on a file lock); anywhere else they fail and say how.
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Without the background-networking flags, Chromium keeps calling Google's services and, on a closed
# network, logs each refusal.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOW_TO_GET_CHROMIUM = ("the web tests need Chromium: `apt-get install chromium` (Debian), or set QBSYNC_CHROMIUM "
                       "to a Chromium or Chrome executable; run as root with apt-get, the tests install it themselves")


def _find_chromium() -> str | None:
    named = os.environ.get("QBSYNC_CHROMIUM")
    if named:
        if not os.access(named, os.X_OK):
            pytest.fail(f"QBSYNC_CHROMIUM={named} is not an executable; {HOW_TO_GET_CHROMIUM}", pytrace=False)
        return named
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def _install_chromium() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv, timeout in ((["apt-get", "update", "-qq"], 600), (["apt-get", "install", "-y", "-qq", "chromium"], 1200)):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n"
                        f"{HOW_TO_GET_CHROMIUM}", pytrace=False)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a Chromium; installed with apt-get at most once per machine when missing and allowed."""
    found = _find_chromium()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        with open(Path(tempfile.gettempdir()) / "qbsync-tests-chromium.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here, then finds it installed
            found = _find_chromium()
            if found is None:
                _install_chromium()
                found = _find_chromium()
    if found is None:
        pytest.fail(HOW_TO_GET_CHROMIUM, pytrace=False)
    return found


# textual-serve's page draws the terminal on a canvas (xterm.js's WebGL or canvas renderer): the DOM
# holds no text. This keeps a reference to the xterm Terminal when textual.js assigns `this.terminal`,
# so the tests read the screen with xterm's public buffer API, as the operator sees it.
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {configurable: true, set(value) {
    window.qbsyncTerminal = value;
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
}});
"""
SCREEN_TEXT = """() => {
    const terminal = window.qbsyncTerminal;
    if (!terminal) return '';
    const lines = [];
    for (let y = 0; y < terminal.rows; y++) lines.push(terminal.buffer.active.getLine(y).translateToString(true));
    return lines.join('\\n');
}"""


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(KEEP_TERMINAL)
    # The page asks Google Fonts for its font; on a closed network that only adds a failed lookup.
    page.route(re.compile(r"^https://fonts\.(googleapis|gstatic)\.com/"), lambda route: route.abort())
    yield page
    context.close()


class Terminal:
    """What the page's terminal shows, read as text."""

    def __init__(self, page):
        self.page = page

    def text(self) -> str:
        return self.page.evaluate(SCREEN_TEXT)

    def wait_for(self, *words: str, gone: tuple[str, ...] = (), timeout: float = 30_000) -> str:
        """Wait until the terminal shows every word (and none of `gone`); the screen's text then."""
        self.page.wait_for_function(
            f"([words, gone]) => {{ const text = ({SCREEN_TEXT})(); "
            "return words.every(w => text.includes(w)) && !gone.some(w => text.includes(w)); }",
            arg=[list(words), list(gone)], timeout=timeout)
        return self.text()


@pytest.fixture
def terminal(page) -> Terminal:
    return Terminal(page)


def _pump(stream, into: list[str], lines: queue.Queue | None) -> None:
    for line in stream:
        into.append(line)
        if lines is not None:
            lines.put(line)


@dataclass
class WebServer:
    """A running `qbsync web`: its address (token included), and everything it wrote so far."""

    process: subprocess.Popen
    workdir: Path
    url: str = ""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.rsplit("token=", 1)[1]

    def stop(self, sig=signal.SIGINT, timeout: float = 15) -> int:
        """Stop it as ctrl+c (or systemd's SIGTERM) would; its exit code once its output is read."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code


def start_web(workdir: Path, *args: str) -> WebServer:
    """`qbsync web ARGS` from `workdir`, once it printed the address to open (or exited)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    # SIGINT as a terminal delivers it, even under a test run started in the background, which
    # ignores SIGINT (and its children would inherit that): the tests stop the server with it.
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "web", *args], cwd=workdir, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    server, lines = WebServer(process, workdir), queue.Queue()
    server._readers = [threading.Thread(target=_pump, args=(process.stdout, server.stdout, lines), daemon=True),
                       threading.Thread(target=_pump, args=(process.stderr, server.stderr, None), daemon=True)]
    for reader in server._readers:
        reader.start()
    deadline, announced = time.monotonic() + 30, False
    while not announced and process.poll() is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if found := re.search(r"open (http://\S+)", line):
            server.url = found.group(1)
        announced = "ctrl+c stops" in line  # the announcement's last line
    return server


@pytest.fixture
def demo_workdir(tmp_path) -> Path:
    """The shipped rules.yaml alone in a directory: `qbsync tui` there runs the embedded local APIs with demo data."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "rules.yaml", work / "rules.yaml")
    return work


@pytest.fixture
def launch():
    """`launch(workdir, *args)`: `qbsync web ARGS` started (or failed) there; stopped after the test."""
    started: list[WebServer] = []

    def launch_web(workdir: Path, *args: str) -> WebServer:
        started.append(start_web(workdir, *args))
        return started[-1]

    yield launch_web
    for server in started:
        if server.process.poll() is None:
            server.stop()


@pytest.fixture
def web(demo_workdir, launch):
    """`qbsync web --port 0` on the demo workdir."""
    server = launch(demo_workdir, "--port", "0")
    assert server.url, f"qbsync web printed no address: {''.join(server.stdout + server.stderr)}"
    return server
