"""Serve a WSGI app on loopback in a background thread (used by `qbsync local serve` and tests).

HTTP/1.1 with keep-alive, as QuickBooks and Precoro answer: a client keeps its connections open
between requests (a plan of 100,000 records makes a few thousand), and a connection the server
closed while it was idle is something the client meets in real use. wsgiref serves one request per
connection; `_Connection` serves requests on it until the client closes it, it stays idle for
`IDLE_SECONDS`, or an answer could not be sent whole (a dropped connection, a body cut short: the
faults the local APIs inject), after which the connection is closed as a real server would.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

# How long a connection may wait for its next request (the real services' load balancers close
# idle ones after a minute or so; shorter here, so that servers in tests hold few threads).
IDLE_SECONDS = 15.0


class _Body:
    """A request's body as the app reads it: at most its Content-Length from the connection, the rest
    read and dropped after the answer (the next request on the connection begins after it)."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self._left = length

    def read(self, size: int = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size) if size else b""
        self._left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.readline(size) if size else b""
        self._left -= len(data)
        return data

    def drain(self) -> None:
        while self._left and self.read(65536):
            pass


class _Answer(ServerHandler):
    """One response, in HTTP/1.1. `whole`: it was sent in full and its length said where it ends,
    so the connection can serve another request."""

    http_version = "1.1"
    whole = False

    def close(self) -> None:
        # Called once the answer went out (not when the app dropped the connection: run() returns early).
        if self.status is not None and self.headers is not None:
            length = self.headers.get("Content-Length")
            bodiless = self.status[:3] in ("204", "304")
            self.whole = bodiless or (length is not None and int(length) == self.bytes_sent)
        super().close()


class _Connection(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    # An answer goes out as its head, then its body: on a kept connection Nagle's algorithm would
    # hold the body back until the client acknowledged the head, which it delays (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        # Request lines would carry query strings; the servers log nothing by default.
        pass

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["REMOTE_PORT"] = str(self.client_address[1])  # as most servers give it: which connection
        return environ

    def handle(self) -> None:
        self._answer_one()
        while not self.close_connection:
            self._answer_one()

    def _answer_one(self) -> None:
        """Answer the connection's next request; `close_connection` says whether another may follow."""
        self.close_connection = True
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, ConnectionError):
            return  # idle too long, or the client went away
        if not self.raw_requestline:
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # it answered the error, and keeps the connection only if it may
            return
        # parse_request set close_connection from the request's version and Connection header.
        keep = not self.close_connection and "chunked" not in self.headers.get("Transfer-Encoding", "")
        body = _Body(self.rfile, int(self.headers.get("Content-Length") or 0))
        answer = _Answer(body, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        answer.request_handler = self
        answer.run(self.server.get_app())
        if keep and answer.whole:
            body.drain()
            self.close_connection = False
        else:
            self.close_connection = True


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open many keep-alive connections; the default backlog of 5 drops some.
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def close_connections(self) -> None:
        """Close the connections kept open: a stopped server answers nothing more on them."""
        with self._open_lock:
            open_now = list(self._open)
        for connection in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile


class ServedApp:
    """A running server: `url` is its root, `close()` stops it."""

    def __init__(self, server: ThreadingWSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.port = port
        self.url = f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ServedApp":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, *, idle_seconds: float = IDLE_SECONDS) -> ServedApp:
    """Start `app` on host:port (0 = any free port) in a daemon thread. `idle_seconds`: how long a
    kept connection waits for its next request before the server closes it."""
    handler = type("_Connection", (_Connection,), {"timeout": idle_seconds})
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=handler)
    # A short poll interval makes close() quick (tests start and stop many servers).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"wsgi:{server.server_address[1]}", daemon=True)
    thread.start()
    return ServedApp(server, thread)
