"""W3: a plan stopped (ctrl+c, quitting the TUI) while one of its requests waits to be sent again
ends at once, not after the retry's backoff: an unreachable service is tried six times over about
fifteen seconds, and a server's Retry-After may ask for two minutes."""

from __future__ import annotations

import socket
import threading

from engine.errors import Interrupted

REALM = "8312"


def test_w3_a_plan_stopped_while_a_request_waits_to_be_sent_again_stops_at_once(servers, fresh_dir, retried):
    servers.reset(REALM)
    workdir = fresh_dir()
    with socket.socket() as probe:  # a port nothing listens on, for Precoro
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with servers.session(workdir, REALM) as s:
        rules = workdir / "rules.yaml"
        rules.write_text(rules.read_text().replace(servers.pc.url, closed))
        s.reload_rules()
        stop, ended = threading.Event(), {}

        def planning() -> None:
            try:
                s.plan(stop=stop)
            except Exception as exc:  # what the plan ended with, for the test to look at
                ended["error"] = exc

        thread = threading.Thread(target=planning)
        thread.start()
        assert retried.wait(10), "no request was tried again"
        stop.set()
        thread.join(6)
        assert not thread.is_alive()  # it did not sleep out the rest of its backoff (14 s)
        assert isinstance(ended.get("error"), Interrupted), ended
        assert s.store.latest_plan_id() is None  # nothing was saved
