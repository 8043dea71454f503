"""U5: runs every 15 minutes that all fail the same way (a revoked key, all night) tell a person
once a day, not at every run; the first run that works again says so. Real runs (`run_once`) over
HTTP on the local APIs, a real state file, a clock of the test's."""

from __future__ import annotations

from engine.local.demo import DEMO_REALM
from engine.run import run_once

REALM = DEMO_REALM


def test_u5_an_error_that_lasts_is_told_once_a_day_and_its_end_once(servers, fresh_dir):
    servers.reset(REALM)
    workdir = fresh_dir()

    def run(at: str, precoro_token: str | None = None):
        session = servers.session(workdir, REALM)  # each run its own process, as `run --every` cycles
        if precoro_token:
            session.env["PRECORO_TOKEN"] = precoro_token
        session.clock = lambda: at
        try:
            return run_once(session, trigger="schedule")
        finally:
            session.close()

    first = run("2026-12-01T22:00:00+00:00", "revoked-key")
    assert first.error and first.worth_telling and first.error_told_on == "2026-12-01"
    later = run("2026-12-01T23:45:00+00:00", "revoked-key")
    assert later.error == first.error and not later.worth_telling  # told tonight already
    next_day = run("2026-12-02T00:00:00+00:00", "revoked-key")
    assert next_day.worth_telling and next_day.error_told_on == "2026-12-02"  # a new day: told again

    works = run("2026-12-02T07:30:00+00:00")
    assert works.error is None and works.recovered_from == first.error and works.worth_telling
    assert "  works again; the runs before failed: " in works.text()
    assert run("2026-12-02T07:45:00+00:00").recovered_from is None
