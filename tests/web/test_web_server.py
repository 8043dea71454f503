"""`qbsync web` over plain HTTP: nothing without the token, and the command's errors and warnings."""

from __future__ import annotations

import signal
import socket

import httpx

# What a browser sends to open textual-serve's websocket.
UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def test_every_request_without_the_token_is_refused(web):
    with httpx.Client(base_url=web.base) as client:
        for path in ("/", "/static/js/textual.js", "/download/x"):
            assert client.get(path).status_code == 403, path
        assert client.get("/ws", headers=UPGRADE).status_code == 403
        assert client.get("/", params={"token": web.token[:-1]}).status_code == 403
        assert client.get("/", params={"token": ""}).status_code == 403
        assert not client.cookies  # a refused request never sets the cookie

        # The right token: a cookie (HttpOnly, SameSite=Strict) and the same address without the token.
        opened = client.get("/", params={"token": web.token, "fontsize": "14"})
        assert opened.status_code == 302
        assert opened.headers["location"] == "/?fontsize=14"
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie

        page = client.get("/")  # the client keeps the cookie, as a browser does
        assert page.status_code == 200 and 'id="terminal"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert client.get("/static/js/textual.js").status_code == 200
        assert web.token not in page.text  # the page, as a browser's history or cache keeps it
        name = next(iter(client.cookies))

    with httpx.Client(base_url=web.base, cookies={name: "guessed"}) as guesser:
        assert guesser.get("/").status_code == 403
        assert guesser.get("/ws", headers=UPGRADE).status_code == 403


def test_sigterm_stops_it_cleanly(web):
    assert web.stop(signal.SIGTERM) == 0
    assert "Traceback" not in "".join(web.stderr)


def test_a_port_in_use_is_one_line_and_exit_1(demo_workdir, launch):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = launch(demo_workdir, "--port", str(port))
        assert server.stop() == 1
    assert server.stderr == [f"qbsync: web: port {port} on 127.0.0.1 is in use; pass another --port "
                             "(0 picks a free one)\n"]
    assert (server.url, server.stdout) == ("", [])  # nothing to open: no address, no token


def test_a_missing_rules_file_is_one_line_and_exit_1(tmp_path, launch):
    server = launch(tmp_path, "--port", "0", "--rules", "nowhere.yaml")
    assert server.stop() == 1
    [said] = server.stderr
    assert server.stdout == [] and said.startswith("qbsync: no rules file nowhere.yaml in ")
    assert said.endswith("name it with --rules PATH, or write a commented start with `qbsync init --rules "
                         "nowhere.yaml`\n")


def test_listening_beyond_loopback_warns_and_drops_the_tunnel_hint(demo_workdir, launch):
    server = launch(demo_workdir, "--host", "0.0.0.0", "--port", "0", "--public-url", "http://qbsync.example:8000")
    assert server.url.startswith("http://qbsync.example:8000/?token=")
    assert server.stop() == 0
    assert any("warning: listening on 0.0.0.0, not on loopback" in line for line in server.stderr)
    assert not any("ssh -L" in line for line in server.stdout)


def test_on_loopback_it_says_how_to_tunnel(web):
    port = web.base.rsplit(":", 1)[1]
    assert web.base == f"http://127.0.0.1:{port}"
    assert f"ssh -L {port}:127.0.0.1:{port} THIS-HOST" in "".join(web.stdout)
    assert not any("warning" in line for line in web.stderr)
