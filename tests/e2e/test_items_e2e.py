"""Items end to end (I1-I10): the qbsync CLI against `qbsync local serve` over HTTP."""

from __future__ import annotations

import httpx
import pytest

from engine.clients.quickbooks import quote



def clients(workdir):
    return workdir.clients()


def first_sync(workdir):
    return workdir.first_sync()

pytestmark = pytest.mark.e2e


def qb_item(qb, name):
    [row] = list(qb.query_all("Item", f"Name = {quote(name)}"))
    return row


def pc_item(pc, name):
    """The item with its details (its custom fields): the list answers summaries."""
    [row] = [i for i in pc.list_all("/items") if i["name"] == name]
    return pc.details("/items", row)


def links(workdir):
    import sqlite3

    db = sqlite3.connect(workdir.path / ".qbsync" / "state.db")
    return dict(db.execute("select precoro_id, quickbooks_id from links where entity = 'items'").fetchall())


def sync_items(workdir):
    plan = workdir.json("plan", "--only", "items")
    report = workdir.json("apply", plan["plan_id"], "--yes")
    return plan, report


def test_i1_i7_sync_items_links_identical_names_and_follows_quickbooks(workdir):
    # One plan of everything: suppliers are planned first, items then follow their QuickBooks data.
    plan, report = first_sync(workdir)
    linked_names = {a["name"] for a in plan["actions"] if a["kind"] == "link" and a["entity"] == "item"}
    assert linked_names == {"Copy paper A4", "Sample kit", "Landscape"}  # identical names only; not the inactive Fax
    item_ids = {a["id"] for a in plan["actions"] if a["entity"] == "item"}
    assert all(r["status"] in ("applied", "skipped") for r in report["results"] if r["id"] in item_ids)
    sync_items(workdir)  # the supplier of an item resolves once its supplier is linked
    qb, pc = clients(workdir)
    paper = pc_item(pc, "Copy paper A4")
    assert (paper["sku"], paper["description"], float(paper["price"])) == ("CP-A4-500", "500 sheets, 80 g/m²", 4.5)
    assert paper["supplier"]["name"] == "Robertson & Associates"
    [chart] = paper["dataProductCustomFields"]["data"]
    assert chart["option"]["name"] == "Office Supplies"
    # I7: the free-of-charge item keeps its price.
    sample = pc_item(pc, "Sample kit")
    assert sample["freeOfCharge"] is True and float(sample["price"]) == 0.0
    assert not [a for a in workdir.json("plan", "--only", "items")["actions"] if a["kind"] != "blocked"]


def test_i2_a_quickbooks_rename_reaches_precoro_on_the_next_sync_items(workdir):
    first_sync(workdir)
    sync_items(workdir)
    qb, pc = clients(workdir)
    paper = qb_item(qb, "Copy paper A4")
    qb.update("Item", {"Id": paper["Id"], "SyncToken": paper["SyncToken"], "sparse": True, "Name": "Copy paper A4, 80 g"})
    plan, _ = sync_items(workdir)
    [rename] = [a for a in plan["actions"] if a["kind"] == "update"]
    assert [(c["field"], c["after"]) for c in rename["changes"]] == [("name", "Copy paper A4, 80 g")]
    assert pc.get(f"/items/{rename['precoro_id']}")["name"] == "Copy paper A4, 80 g"


def test_i4_i6_map_by_hand_with_different_names_then_sync_items_renames(workdir):
    first_sync(workdir)
    sync_items(workdir)
    qb, pc = clients(workdir)
    toner, printer_toner = pc_item(pc, "Toner black"), qb_item(qb, "Printer toner, black")
    unmapped = workdir.json("items", "unmapped")["unmapped"]
    entry = next(u for u in unmapped if u["precoro_id"] == str(toner["id"]))
    assert entry["candidates"][0]["quickbooks_id"] == printer_toner["Id"]
    candidate_ids = {c["quickbooks_id"] for u in unmapped for c in u["candidates"]}
    fax = next(i for i in qb.query_all("Item", "Active = false") if i["Name"].startswith("Fax"))
    assert fax["Id"] not in candidate_ids  # I9: inactive items are never candidates
    assert qb_item(qb, "Copy paper A4")["Id"] not in candidate_ids  # linked ones neither

    result = workdir.run("items", "map", str(toner["id"]), printer_toner["Id"], "--yes", "--json")
    assert result.returncode == 0, result.stderr
    mapped = pc.get(f"/items/{toner['id']}")
    assert mapped["name"] == "Toner black"  # names stay at mapping time (I6)
    assert (mapped["sku"], mapped["description"], float(mapped["price"])) == ("TN-2420", "High-yield toner cartridge", 61.0)
    assert mapped["supplier"]["name"] == "Robertson & Associates"
    plan, _ = sync_items(workdir)
    assert pc.get(f"/items/{toner['id']}")["name"] == "Printer toner, black"  # the next Sync Items renames


def test_i5_map_with_equal_names_sets_the_price_from_the_cost(workdir):
    qb, pc = clients(workdir)
    pc.create("/items", {"name": "Annual software licence", "price": "999"})
    item = pc_item(pc, "Annual software licence")
    result = workdir.run("items", "map", str(item["id"]), qb_item(qb, "Annual software licence")["Id"], "--yes")
    assert result.returncode == 0, result.stderr
    after = pc.get(f"/items/{item['id']}")
    assert after["name"] == "Annual software licence" and float(after["price"]) == 1200.0
    assert after["sku"] in (None, "")  # only the price is taken when names are equal


def test_i9_inactive_in_quickbooks_unlinks_then_relinks_when_active_again(workdir):
    first_sync(workdir)
    sync_items(workdir)
    qb, pc = clients(workdir)
    paper = qb_item(qb, "Copy paper A4")
    qb.update("Item", {"Id": paper["Id"], "SyncToken": paper["SyncToken"], "sparse": True, "Active": False})
    plan, _ = sync_items(workdir)
    [unlink] = [a for a in plan["actions"] if a["kind"] == "unlink"]
    assert unlink["quickbooks_id"] == paper["Id"]
    assert unlink["precoro_id"] in {u["precoro_id"] for u in workdir.json("items", "unmapped")["unmapped"]}
    assert workdir.run("items", "map", unlink["precoro_id"], paper["Id"], "--yes").returncode == 1  # inactive: no
    paper = qb.read("Item", paper["Id"])
    qb.update("Item", {"Id": paper["Id"], "SyncToken": paper["SyncToken"], "sparse": True, "Active": True})
    plan, _ = sync_items(workdir)
    assert [(a["kind"], a["quickbooks_id"]) for a in plan["actions"] if a["kind"] == "link"] == [("link", paper["Id"])]
    assert links(workdir)[unlink["precoro_id"]] == paper["Id"]


def test_i10_merge_in_quickbooks_moves_the_link_to_the_survivor(workdir):
    first_sync(workdir)
    sync_items(workdir)
    qb, pc = clients(workdir)
    duplicate, survivor = qb_item(qb, "Landscape"), qb_item(qb, "Landscaping")
    landscape = pc_item(pc, "Landscape")
    assert links(workdir)[str(landscape["id"])] == duplicate["Id"]
    info = workdir.apis.info["quickbooks"]
    root = info["base_url"].rsplit("/v3", 1)[0]
    response = httpx.post(f"{root}/_local/{info['realm_id']}/merge/item",
                          json={"duplicate": duplicate["Id"], "survivor": survivor["Id"]})
    assert response.status_code == 200, response.text
    plan, report = sync_items(workdir)
    [move] = [a for a in plan["actions"] if a["kind"] == "link"]
    assert (move["precoro_id"], move["quickbooks_id"]) == (str(landscape["id"]), survivor["Id"])
    assert not [a for a in plan["actions"] if a["kind"] == "unlink"]  # not I9
    assert links(workdir)[str(landscape["id"])] == survivor["Id"]
    assert pc.get(f"/items/{landscape['id']}")["name"] == "Landscaping"  # it follows its new QuickBooks item


def test_i8_deleting_a_linked_precoro_item_frees_the_quickbooks_item(workdir):
    first_sync(workdir)
    sync_items(workdir)
    qb, pc = clients(workdir)
    landscape = pc_item(pc, "Landscape")
    pc.delete(f"/items/{landscape['id']}")
    plan, _ = sync_items(workdir)
    [unlink] = [a for a in plan["actions"] if a["kind"] == "unlink"]
    assert unlink["precoro_id"] == str(landscape["id"])
    # A new Precoro item can now be mapped to the freed QuickBooks item.
    created = pc.create("/items", {"name": "Landscape service", "price": "70"})
    assert workdir.run("items", "map", str(created["id"]), qb_item(qb, "Landscape")["Id"], "--yes").returncode == 0


def test_d1_d2_approved_documents_become_bills_once_each(workdir):
    rules = workdir.path / "rules.yaml"
    text = rules.read_text()
    at = text.index("  purchase_orders:")
    rules.write_text(text[:at] + text[at:].replace("enabled: false", "enabled: true", 1))
    first_sync(workdir)  # suppliers, items, and the documents whose suppliers were linked before
    workdir.json("plan")  # one more round, as an operator would: it sends nothing more (checked below)
    workdir.json("apply", "--yes")
    qb, pc = clients(workdir)
    [bill] = list(qb.query_all("Bill"))
    assert bill["DocNumber"] == "INV-2026-0042" and "supplier portal" in bill["PrivateNote"]  # S6
    kinds = [line["DetailType"] for line in bill["Line"]]
    assert kinds == ["ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail"]  # D2
    assert len(list(qb.query_all("PurchaseOrder"))) == 1
    # Once each: nothing more to send, and another apply sends nothing.
    again = workdir.json("plan")
    assert not [a for a in again["actions"] if a["entity"] in ("invoice", "purchase_order")]
    assert len(list(qb.query_all("Bill"))) == 1
