"""Serve a WSGI app on loopback in a background thread (used by `qbsync local serve` and tests)."""

from __future__ import annotations

import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        # Request lines would carry query strings; the servers log nothing by default.
        pass


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # Benchmarks open many keep-alive connections; the default backlog of 5 drops some.
    request_queue_size = 128


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
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ServedApp":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0) -> ServedApp:
    """Start `app` on host:port (0 = any free port) in a daemon thread."""
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler)
    # A short poll interval makes close() quick (tests start and stop many servers).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"wsgi:{server.server_address[1]}", daemon=True)
    thread.start()
    return ServedApp(server, thread)
