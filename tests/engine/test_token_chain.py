"""Two processes on one state file (the TUI beside a CLI run) share one rotating refresh-token chain."""

from __future__ import annotations

REALM = "5550001"


def test_a_session_holding_a_rotated_refresh_token_continues_from_the_stored_chain(servers, fresh_dir):
    servers.reset(REALM)
    servers.quickbooks.insert(REALM, "Vendor", {"DisplayName": "Acme"})
    workdir = fresh_dir()
    first = servers.session(workdir, REALM)  # two sessions started from the same exported tokens
    second = servers.session(workdir, REALM, workdir / "state.db")
    second.env.update({k: first.env[k] for k in first.env})
    try:
        first_auth, second_auth = first.connected.quickbooks._auth, second.connected.quickbooks._auth
        first_auth.refresh()  # rotates: the exported refresh token is retired at once
        stored = first.store.get_tokens("quickbooks")
        assert stored["refresh_token"] == first_auth._tokens.refresh_token
        # The second process still holds the retired token; refreshing must not present it.
        second_auth.refresh()
        assert second_auth._tokens.refresh_token == stored["refresh_token"]
        assert [v["DisplayName"] for v in second.connected.quickbooks.query_all("Vendor")] == ["Acme"]
    finally:
        first.close()
        second.close()
