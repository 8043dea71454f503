"""`status --all DIR` (U1, U5): which of many companies want a person, from their state files alone.

Real sessions on real state files against the local APIs over HTTP: each company is run as a timer
would run it, then all are told at once, and the APIs' request logs show that telling asked nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.companies import companies_table, month_reads, status_all, status_all_exit_code
from engine.local.demo import seed_precoro, seed_quickbooks
from engine.run import EXIT_ERROR, EXIT_HELD, EXIT_OK, companies, run_once
from engine.sync import SyncSession

ACME, BETA, GAMMA = "4620816365201", "4620816365202", "4620816365203"


def run_company(servers, folder, realm, *, env=None):
    """One unattended run of a company of its own (demo data), as `qbsync run` on a timer makes it."""
    servers.reset(realm)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, realm))
    session = servers.session(folder, realm)
    session.env.update(env or {})
    with session:
        return run_once(session)


def test_u1_u5_status_of_all_companies_says_which_want_a_person_and_asks_neither_service(servers, tmp_path):
    acme = run_company(servers, tmp_path / "acme", ACME)  # holds the demo's conflict and the like (U2)
    assert acme.exit_code == EXIT_HELD and acme.held

    # beta's five years of authorization end in 12 days: its run learns it as it refreshes.
    servers.reset(BETA)
    beta_session = servers.session(tmp_path / "beta", BETA)
    del beta_session.env["QUICKBOOKS_ACCESS_TOKEN"]
    servers.quickbooks.oauth.end_grants(BETA, datetime.now(timezone.utc) + timedelta(days=12, hours=1))
    with beta_session:
        assert run_once(beta_session, only=["suppliers"]).error is None

    gamma = run_company(servers, tmp_path / "gamma", GAMMA, env={"PRECORO_TOKEN": "revoked"})
    assert gamma.exit_code == EXIT_ERROR
    (tmp_path / "delta").mkdir()  # a company whose rules file is broken
    (tmp_path / "delta" / "rules.yaml").write_text("version: 1\nsuppliers:\n  conflict: ask_me\n")

    servers.requests()
    told = status_all(companies(tmp_path), lambda rules: SyncSession(rules, rules.parent / "state.db"))
    assert servers.requests() == {"quickbooks": [], "precoro": []}  # from the state files alone

    rows = {company.company: company for company in told}
    assert list(rows) == ["acme", "beta", "delta", "gamma"]
    assert rows["acme"].problems == [] and rows["acme"].held == len(acme.held)
    assert rows["acme"].waiting == [f"{len(acme.held)} held for review (`qbsync held`)"]
    assert rows["acme"].exit_code == EXIT_HELD and rows["acme"].last_run["exit_code"] == EXIT_HELD

    [ending] = [said for said in rows["beta"].waiting if "QuickBooks connection" in said]
    assert "(in 12 days): Intuit ends every authorization five years after it was given" in ending
    assert rows["beta"].problems == []

    assert rows["gamma"].problems and rows["gamma"].problems[0].startswith("its last run failed: ")
    assert rows["delta"].problems[0].startswith("cannot be read: ") and "delta/rules.yaml:3:" in rows["delta"].problems[0]
    assert rows["delta"].status is None and rows["delta"].to_json()["exit_code"] == EXIT_ERROR
    assert status_all_exit_code(told) == EXIT_ERROR
    assert status_all_exit_code([rows["acme"], rows["beta"]]) == EXIT_HELD

    # The month's reads of all of them: one Intuit app serves them all.
    reads = month_reads(told)
    assert reads["reads"] == sum(rows[name].reads["reads"] for name in ("acme", "beta", "gamma")) > 0
    assert reads["month"] == datetime.now(timezone.utc).strftime("%Y-%m") and reads["warning"] is None

    table = companies_table(told).splitlines()
    assert table[0].split()[:3] == ["company", "last", "run"]
    assert table[1].startswith("acme ") and " held " in table[1] and "held for review" in table[1]
    assert table[3].split()[:4] == ["delta", "never", "-", "-"]
    assert " FAILED " in table[4] and "its last run failed" in table[4]


def test_u1_a_company_with_nothing_waiting_is_fine(demo_synced, tmp_path):
    session = demo_synced()
    with session:
        assert run_once(session, only=["items"]).exit_code == EXIT_OK  # its items are all in sync
    [company] = status_all([session.rules_path], lambda rules: SyncSession(rules, session.state_path))
    assert (company.exit_code, company.problems, company.waiting) == (EXIT_OK, [], [])
    assert company.held == 0 and company.to_decide == 0

    # A timer that stopped: with `--late 1h`, a company whose last run is two hours old is a problem.
    def two_hours_on(rules):
        later = SyncSession(rules, session.state_path)
        later.clock = lambda: (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat(timespec="seconds")
        return later

    [on_time] = status_all([session.rules_path], lambda rules: SyncSession(rules, session.state_path), late=3600)
    [late] = status_all([session.rules_path], two_hours_on, late=3600)
    assert on_time.exit_code == EXIT_OK and late.exit_code == EXIT_ERROR
    assert late.problems == ["no run for 2 h (late after 1 h)"]


def test_u1_a_plan_made_by_a_person_tells_its_conflicts_to_decide(servers, tmp_path):
    servers.reset(ACME)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, ACME))
    with servers.session(tmp_path / "acme", ACME) as session:
        plan = session.plan()  # the demo's conflict waits for a side to be taken; no run holds it
    conflicts = sum(1 for action in plan.actions if action.kind == "conflict" and not action.decision)
    assert conflicts
    [company] = status_all([tmp_path / "acme" / "rules.yaml"], lambda rules: SyncSession(rules, rules.parent / "state.db"))
    assert company.to_decide == conflicts and company.held == 0 and company.exit_code == EXIT_HELD
    assert company.waiting == [f"{conflicts} conflict{'s' if conflicts > 1 else ''} to decide in plan {plan.id}"]


def test_u5_a_check_tells_new_problems_then_once_a_day_and_when_they_end():
    from engine.companies import CompanyStatus, news_of

    def check(told, day, **problems):
        return news_of([CompanyStatus(name, f"{name}/rules.yaml", problems=said) for name, said in problems.items()]
                       + [CompanyStatus("fine", "fine/rules.yaml")], told, day)

    news, told = check(None, "2026-12-03", acme=["no run for 3 h (late after 2 h)"])
    assert news == ("qbsync: 1 company needs you", "acme (new): no run for 3 h (late after 2 h)")
    assert check(told, "2026-12-03", acme=["no run for 4 h (late after 2 h)"])[0] is None  # said today already
    news, told = check(told, "2026-12-03", acme=["no run for 5 h (late after 2 h)"], gamma=["cannot be read: x"])
    assert news == ("qbsync: 2 companies need you",
                    "acme: no run for 5 h (late after 2 h)\ngamma (new): cannot be read: x")
    news, told = check(told, "2026-12-04", acme=["no run for 1 d (late after 2 h)"], gamma=["cannot be read: x"])
    assert news[0] == "qbsync: 2 companies need you"  # a new day: said again while it lasts
    news, told = check(told, "2026-12-04", gamma=["cannot be read: x"])
    assert news == ("qbsync: 1 company needs you", "gamma: cannot be read: x\nacme: works again")
    news, told = check(told, "2026-12-04")
    assert news == ("qbsync: every company works again", "gamma: works again")
    assert check(told, "2026-12-05") == (None, {"day": "2026-12-05", "companies": []})
