"""`qbsync web`: the operator's TUI in a browser, served by textual-serve.

textual-serve runs one `qbsync tui` per browser session (Textual's web driver) and streams it to
xterm.js over a websocket. What this module adds is access control and plain operation: a token
made anew at each start, printed once; every request without it (the page, its assets, the
websocket) is refused with 403. The first visit with `?token=` trades it for an HttpOnly,
SameSite=Strict cookie and a redirect that takes the token out of the address bar, so it is not in
the browser's history or in a Referer. Bound to loopback by default: the way in from another
machine is an SSH tunnel.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import secrets
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Callable

from aiohttp import web
from aiohttp.web_runner import GracefulExit
from textual_serve.server import Server

from engine.errors import QbsyncError

TOKEN_PARAM = "token"


def tui_command(rules: Path, state: Path | None) -> str:
    """The command each browser session runs: exactly `qbsync tui` on the same rules and state.

    textual-serve runs it through a shell, hence the quoting; paths are absolute because the shell
    starts wherever the server was started, and the operator may have given relative ones."""
    argv = [sys.executable, "-m", "tui.cli", "tui", "--rules", str(rules.resolve())]
    if state is not None:
        argv += ["--state", str(state.resolve())]
    return shlex.join(argv)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


class TokenServer(Server):
    """textual-serve's Server behind a one-time token, on a socket this class binds itself (so a
    port in use is one clear error before anything is printed, and port 0 picks a free one)."""

    def __init__(self, command: str, host: str, port: int, public_url: str | None = None,
                 announce: Callable[[TokenServer], None] = lambda server: None):
        self._announce = announce
        self.token = secrets.token_urlsafe(32)
        self._sock = _bind(host, port)
        port = self._sock.getsockname()[1]
        super().__init__(command, host=host, port=port, title="qbsync", public_url=public_url)
        self.public_url = self.public_url.rstrip("/")
        # Cookies are per host, not per port: two servers on one machine must not overwrite each other's.
        self.cookie = f"qbsync_web_{port}"
        self._sessions: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        """The address to open, token included: printed once, never logged."""
        return f"{self.public_url}/?{TOKEN_PARAM}={self.token}"

    def _valid(self, given: str | None) -> bool:
        return given is not None and secrets.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _require_token(self, request: web.Request, handler):
        if TOKEN_PARAM in request.query:
            if not self._valid(request.query[TOKEN_PARAM]):
                raise web.HTTPForbidden(text="qbsync web: wrong token\n")
            rest = {k: v for k, v in request.query.items() if k != TOKEN_PARAM}
            found = web.HTTPFound(request.rel_url.with_query(rest))
            found.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            raise found
        if not self._valid(request.cookies.get(self.cookie)):
            raise web.HTTPForbidden(text="qbsync web: open the address with ?token= that `qbsync web` printed\n")
        if request.match_info.route.name == "websocket":  # a browser session: see on_shutdown
            session = asyncio.current_task()
            self._sessions.add(session)
            session.add_done_callback(self._sessions.discard)
        response = await handler(request)
        if isinstance(response, web.StreamResponse) and not response.prepared:
            response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._require_token)
        return app

    async def on_shutdown(self, app: web.Application) -> None:
        """Stop the open sessions now: otherwise aiohttp waits out its shutdown timeout for their
        websockets first. textual-serve's handler answers the cancel by telling its TUI to quit."""
        sessions = [task for task in self._sessions if not task.done()]
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a logo and its own address here; we announce ours (with the token): once
        the loop handles ctrl+c and SIGTERM, so whoever reads the address can stop the server cleanly."""
        self._announce(self)

    def initialize_logging(self) -> None:
        """Only textual-serve's warnings and errors (a session that fails to start), on stderr.

        Not aiohttp's access log: it would write every request line, and the first one holds the token."""
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("qbsync web: %(message)s"))
        served = logging.getLogger("textual-serve")
        served.addHandler(handler)
        served.setLevel(logging.WARNING)

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT or SIGTERM (textual-serve's own `serve`, on our socket, with no access log)."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        try:
            web.run_app(self._make_app(), sock=self._sock, handle_signals=False, loop=loop, access_log=None,
                        print=None, shutdown_timeout=5)
        except GracefulExit:
            pass


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except socket.gaierror:
        raise QbsyncError(f"web: cannot listen on {host!r}: no such address") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise QbsyncError(f"web: port {port} on {host} is in use; pass another --port (0 picks a free one)") from None
        raise QbsyncError(f"web: cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(rules: Path, state: Path | None, host: str, port: int, public_url: str | None = None) -> int:
    """`qbsync web`: print the address with its token once, then serve until ctrl+c or SIGTERM."""
    if not rules.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(rules))

    def announce(server: TokenServer) -> None:
        if not is_loopback(host):
            also = "" if public_url else "; pass --public-url with the address browsers reach it by"
            print(f"qbsync web: warning: listening on {host}, not on loopback: anyone who can reach this port and "
                  "has the address below gets the TUI, over plain http; prefer the default 127.0.0.1 and an SSH "
                  f"tunnel{also}", file=sys.stderr, flush=True)
        # The one place the token is written. Nothing else (logs, state, errors) ever holds it.
        print(f"qbsync web: open {server.url}", flush=True)
        if is_loopback(host):
            print(f"qbsync web: from another machine: ssh -L {server.port}:127.0.0.1:{server.port} THIS-HOST, "
                  "then open the same address there", flush=True)
        print("qbsync web: the token is new at each start; ctrl+c stops", flush=True)

    TokenServer(tui_command(rules, state), host, port, public_url, announce).serve()
    print("qbsync web: stopped", file=sys.stderr, flush=True)
    return 0
