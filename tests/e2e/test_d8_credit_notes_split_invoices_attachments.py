"""D8 through the CLI on the served local APIs: credit notes become VendorCredits (or nothing, when the
rules turn them off); a split-cost invoice goes once, as its parent or its parts, never both; a
document's files follow it into QuickBooks once, a type QuickBooks refuses skipped and said."""

from __future__ import annotations

import httpx


def quickbooks(workdir, sql: str) -> list[dict]:
    qb, _ = workdir.clients()
    entity = sql.split(" FROM ")[1].split()[0]
    return qb.query(sql).get(entity, [])


def by_name(plan: dict) -> dict[str, dict]:
    return {action["name"]: action for action in plan["actions"] if action["kind"] in ("create", "blocked")}


def applied(report: dict) -> list[str]:
    return [result["name"] for result in report["results"] if result["status"] == "applied"]


def with_rules(text: str, section: str, key: str, value: str) -> str:
    """The rules text with `key: value` set in documents.<section> (the key is on its first lines)."""
    head = f"  {section}:"
    start = text.index(head)
    at = text.index(f"    {key}:", start)
    end = text.index("\n", at)
    return text[:at] + f"    {key}: {value}" + text[end:]


def test_d8_a_credit_note_becomes_one_vendor_credit_through_the_cli(workdir, precoro):
    workdir.first_sync()
    pc = precoro(workdir)
    idn = pc.invoice("CN-1", logicType=1)

    plan = workdir.json("plan")
    action = by_name(plan)["credit note CN-1"]
    assert (action["entity"], action["kind"], action["target"]) == ("credit_note", "create", "quickbooks")
    assert not [a for a in plan["actions"] if a["entity"] == "invoice"]  # invoices no longer read credit notes
    report = workdir.json("apply", "--yes")
    assert applied(report) == ["credit note CN-1"]

    [credit] = quickbooks(workdir, "SELECT * FROM VendorCredit")
    assert credit["DocNumber"] == "CN-1" and credit["PrivateNote"] == f"Precoro credit note {idn}"
    assert credit["TotalAmt"] == credit["Balance"] == sum(line["quantity"] * line["price"] for line in pc.lines)
    assert str(pc.state.get("invoices", idn)["externalId"]) == credit["Id"]  # D3: marked as sent
    assert not quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber = 'CN-1'")
    # Once: the next plan has nothing for it.
    assert "credit note CN-1" not in by_name(workdir.json("plan"))


def test_d8_credit_notes_turned_off_are_neither_sent_nor_held(make_workdir, precoro):
    workdir = make_workdir(edit=lambda text: with_rules(text, "credit_notes", "enabled", "false"))
    workdir.first_sync()
    pc = precoro(workdir)
    pc.invoice("CN-2", logicType=5)

    plan = workdir.json("plan")
    assert not [a for a in plan["actions"] if "CN-2" in a["name"]]
    workdir.run("apply", "--yes", check=True)
    assert not quickbooks(workdir, "SELECT * FROM VendorCredit")


def split_invoice(pc, number: str) -> tuple[int, int, int]:
    parent = pc.invoice(number)
    return parent, pc.invoice(f"{number}/1", parentData=parent), pc.invoice(f"{number}/2", parentData=parent)


def test_d8_split_cost_parent_sends_the_parent_and_never_its_parts_after(make_workdir, precoro):
    workdir = make_workdir()
    workdir.first_sync()
    parent, _, _ = split_invoice(precoro(workdir), "SPLIT-1")

    actions = by_name(workdir.json("plan"))
    assert actions["invoice SPLIT-1"]["kind"] == "create"
    assert actions["split part SPLIT-1/1"]["kind"] == actions["split part SPLIT-1/2"]["kind"] == "blocked"
    assert "sent whole instead (documents.invoices.split_cost: parent)" in actions["split part SPLIT-1/1"]["note"]
    workdir.run("apply", "--yes", check=True)
    assert [b["DocNumber"] for b in quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber LIKE 'SPLIT-1%'")] == ["SPLIT-1"]

    # The rules turn to children: the parts are still held, their parent having gone (never both).
    rules = workdir.path / "rules.yaml"
    rules.write_text(with_rules(rules.read_text(), "invoices", "split_cost", "children"))
    actions = by_name(workdir.json("plan"))
    assert actions["split part SPLIT-1/1"]["kind"] == "blocked"
    assert f"split-cost parent, invoice {parent}, was sent already" in actions["split part SPLIT-1/1"]["note"]
    workdir.run("apply", "--yes")
    assert len(quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber LIKE 'SPLIT-1%'")) == 1


def test_d8_split_cost_children_sends_the_parts_and_never_their_parent_after(make_workdir, precoro):
    workdir = make_workdir(edit=lambda text: with_rules(text, "invoices", "split_cost", "children"))
    workdir.first_sync()
    _, one, two = split_invoice(precoro(workdir), "SPLIT-2")

    actions = by_name(workdir.json("plan"))
    assert actions["invoice SPLIT-2"]["kind"] == "blocked"
    assert f"sent as its parts {one}, {two} instead" in actions["invoice SPLIT-2"]["note"]
    assert actions["split part SPLIT-2/1"]["kind"] == actions["split part SPLIT-2/2"]["kind"] == "create"
    workdir.run("apply", "--yes", check=True)
    sent = sorted(b["DocNumber"] for b in quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber LIKE 'SPLIT-2%'"))
    assert sent == ["SPLIT-2/1", "SPLIT-2/2"]

    # The parts are sent (Precoro no longer lists them as unsent): the parent is still held, under
    # either rule.
    for split_cost in ("children", "parent"):
        rules = workdir.path / "rules.yaml"
        rules.write_text(with_rules(rules.read_text(), "invoices", "split_cost", split_cost))
        held = by_name(workdir.json("plan"))["invoice SPLIT-2"]
        assert held["kind"] == "blocked" and f"parts {one}, {two} were sent already" in held["note"]
    workdir.run("apply", "--yes")
    assert len(quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber LIKE 'SPLIT-2%'")) == 2


def test_d8_attachments_go_once_and_a_refused_type_is_reported(make_workdir, precoro):
    workdir = make_workdir(edit=lambda text: with_rules(text, "invoices", "attachments", "true"))
    workdir.first_sync()
    pc = precoro(workdir)
    pc.invoice("FILES-1", attachments=[{"name": "scan.pdf", "content": b"%PDF-1.7 the scanned invoice"},
                                       {"name": "photos.zip", "content": b"PK\x03\x04"}])

    plan = workdir.json("plan")
    shown = next(c for c in by_name(plan)["invoice FILES-1"]["changes"] if c["field"] == "attachments")
    assert "scan.pdf" in shown["after"] and "photos.zip (skipped" in shown["after"]
    report = workdir.json("apply", "--yes")
    assert applied(report) == ["invoice FILES-1"]
    told = {entry["file"]: entry for entry in report["attachments"]}
    assert told["invoice FILES-1: scan.pdf"]["status"] == "uploaded"
    assert told["invoice FILES-1: photos.zip"]["status"] == "skipped"
    assert ".zip files" in told["invoice FILES-1: photos.zip"]["reason"]

    [bill] = quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber = 'FILES-1'")
    [attachable] = quickbooks(workdir, "SELECT * FROM Attachable")
    assert attachable["AttachableRef"][0]["EntityRef"] == {"type": "Bill", "value": bill["Id"]}
    assert httpx.get(attachable["TempDownloadUri"]).content == b"%PDF-1.7 the scanned invoice"
    # Once: applying again, or planning and applying anew, uploads nothing more.
    again = workdir.run("apply", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    workdir.run("plan", check=True)
    later = workdir.json("apply", "--yes")
    assert later.get("attachments", []) == []
    assert len(quickbooks(workdir, "SELECT * FROM Attachable")) == 1


def test_d8_a_file_that_fails_is_reported_and_its_document_still_goes(make_workdir, precoro):
    workdir = make_workdir(edit=lambda text: with_rules(text, "invoices", "attachments", "true"))
    workdir.first_sync()
    pc = precoro(workdir)
    idn = pc.invoice("FILES-2", attachments=[{"name": "scan.pdf", "content": b"%PDF"}])
    workdir.run("plan", check=True)
    pc.state.update("invoices", idn, {"attachments": []})  # gone from Precoro before the apply reads it

    result = workdir.run("apply", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    [said] = [line for line in result.stdout.splitlines() if line.startswith("failed   file")]
    assert "invoice FILES-2: scan.pdf" in said and "does not exist" in result.stdout
    assert quickbooks(workdir, "SELECT * FROM Bill WHERE DocNumber = 'FILES-2'")
    assert not quickbooks(workdir, "SELECT * FROM Attachable")
