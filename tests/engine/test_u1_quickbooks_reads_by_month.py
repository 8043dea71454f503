"""What a state file's sessions read of QuickBooks, by month (U1): Intuit meters an Intuit app's
reads ("CorePlus" calls) by the month, all its companies together; `status` says this company's share.

Counted against what the local QuickBooks answered (its request log), over HTTP, on a real state file.
"""

from __future__ import annotations

from engine.local.demo import seed_precoro, seed_quickbooks

REALM = "4620816365111"


def reads_answered(servers) -> int:
    """The reads the local QuickBooks answered since the log was last read: GETs and queries."""
    return sum(1 for method, path, _ in servers.requests()["quickbooks"] if method == "GET" or path.endswith("/query"))


def test_u1_status_tells_this_months_quickbooks_reads_of_every_session_on_the_state_file(servers, fresh_dir):
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    workdir = fresh_dir()
    servers.requests()

    with servers.session(workdir, REALM) as first:
        first.clock = lambda: "2026-12-03T09:00:00+00:00"
        first.plan()
    planned = reads_answered(servers)
    assert planned > 2  # a first plan reads every list

    with servers.session(workdir, REALM) as second:
        second.clock = lambda: "2026-12-03T10:00:00+00:00"
        second.plan()  # nothing changed: its changes only
        said = second.status()["quickbooks_reads"]
        assert said == {"month": "2026-12", "reads": planned + reads_answered(servers)}

        # A new month starts from nothing, this session's reads since then only.
        second.clock = lambda: "2027-01-01T00:05:00+00:00"
        assert second.status()["quickbooks_reads"] == {"month": "2027-01", "reads": reads_answered(servers)}
        assert second.store.reads_in("quickbooks", "2026-12") == said["reads"]  # the month before, as it was


def test_u1_a_pass_over_companies_warns_when_their_month_nears_the_apps_reads():
    from engine.run import CompanyRun, RunSummary, reads_said

    def company(name, reads, month_reads):
        summary = RunSummary(started_at="2026-12-20T09:00:00+00:00", quickbooks_reads=reads,
                             quickbooks_reads_month={"month": "2026-12", "reads": month_reads})
        return CompanyRun(name, f"{name}/rules.yaml", summary)

    calm = reads_said([company("acme", 2, 150_000), company("beta", 3, 100_000)])
    assert calm == ("QuickBooks reads in this pass: 5. Intuit counts an app's reads by the month, all its companies "
                    "together (500,000 on the Builder tier): about 100,000 passes like this one a month. These "
                    "companies read 250,000 in 2026-12 so far.")
    near = reads_said([company("acme", 2, 300_000), company("beta", 3, 120_000)])
    assert near.endswith("These companies read 420,000 in 2026-12 so far. Warning: that is 84% of the month's reads: "
                         "run less often, or move the app to a paid tier, before Intuit blocks its reads until the "
                         "month ends.")
    assert reads_said([company("acme", 0, 10)]) is None  # a pass that read nothing says nothing
