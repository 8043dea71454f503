"""D8, attachments with D3's identity: a document found in QuickBooks instead of created (a lost
state file, a second install) does not get its files a second time."""

from __future__ import annotations

from engine.local.demo import DEMO_REALM, seed_precoro, seed_quickbooks
from engine.sync import SyncSession

REALM = DEMO_REALM


def session(servers, workdir, state) -> SyncSession:
    """A session on the shipped rules with invoices' attachments on."""
    with servers.session(workdir, REALM, state) as plain:  # writes rules.yaml and issues tokens
        env = plain.env
    text = (workdir / "rules.yaml").read_text().replace("    attachments: false\n    # D8: a split",
                                                        "    attachments: true\n    # D8: a split", 1)
    assert "attachments: true" in text
    (workdir / "rules.yaml").write_text(text)
    return SyncSession(workdir / "rules.yaml", state, env=env)


def sync(servers, workdir, state, rounds: int = 2):
    reports = []
    with session(servers, workdir, state) as each:
        for _ in range(rounds):  # the second round sends what waited for the first one's links
            plan = each.plan()
            for action in plan.actions:
                if action.kind == "conflict":
                    each.decide(action.id, "quickbooks", plan.id)
            reports.append(each.apply(plan.id))
    return [told for report in reports for told in report.attachments]


def test_d8_a_document_sent_before_does_not_get_its_files_twice(servers, fresh_dir):
    workdir = fresh_dir()
    servers.reset(REALM)
    seed_precoro(servers.precoro, seed_quickbooks(servers.quickbooks, REALM))
    demo = servers.precoro.get("invoices", 1)
    servers.precoro.update("invoices", 1, {"attachments": [{"name": "scan.pdf", "content": b"%PDF scan"}]})

    told = sync(servers, workdir, workdir / "state.db")
    assert [(t["file"], t["status"]) for t in told] == [(f"invoice {demo['invoiceNumber']}: scan.pdf", "uploaded")]
    # The state file is lost, and the invoice's mark with it: the Bill is found, not created again,
    # and its file is not attached again.
    servers.precoro.update("invoices", 1, {"externalId": None})
    told = sync(servers, workdir, workdir / "another.db")
    assert [t["status"] for t in told] == ["skipped"] and "not sent again" in told[0]["reason"]
    assert len(servers.quickbooks.query(REALM, "SELECT * FROM Bill").response()["Bill"]) == 1
    assert len(servers.quickbooks.query(REALM, "SELECT * FROM Attachable").response()["Attachable"]) == 1
