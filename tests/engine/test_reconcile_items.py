"""Items in the pure core (I1-I10), with records built from real wire shapes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import rules
from engine.entities import ITEMS
from engine.items import mapping_actions
from engine.reconcile import Hold, LinkState, SyncState, fit, reconcile
from engine.references import References
from engine.suggest import CandidateIndex

DEFAULT = rules.loads("version: 1\n")
REFS = References.build({"suppliers": [("2", "8")], "chart_of_accounts": [("11", "2"), ("12", "3")]}, chart_field_id="1")


def qb_item(id, name, *, active=True, sku=None, cost=None, desc=None, vendor=None, account=None):
    raw = {"Id": str(id), "SyncToken": "0", "Name": name + ("" if active else " (deleted)"), "Active": active,
           "Type": "NonInventory", "MetaData": {"LastUpdatedTime": "2026-11-20T10:00:00-08:00"}}
    for key, value in (("Sku", sku), ("PurchaseCost", cost), ("PurchaseDesc", desc)):
        if value is not None:
            raw[key] = value
    if vendor:
        raw["PrefVendorRef"] = {"value": vendor}
    if account:
        raw["ExpenseAccountRef"] = {"value": account}
    return raw


def pc_item(id, name, *, sku=None, price=0, free=False, supplier=None, option=None, desc=None):
    return {"id": id, "name": name, "sku": sku, "price": price, "freeOfCharge": free, "description": desc,
            "supplier": {"id": supplier, "name": "x"} if supplier else None, "enable": True,
            "updateDate": "2026-11-20T18:00:00+00:00",
            "dataProductCustomFields": {"data": [{"itemCustomField": {"id": 1, "name": "Chart of accounts"},
                                                  "option": {"id": option, "name": "o"}}] if option else []}}


def records(pc, qb, rules_=DEFAULT):
    return ([ITEMS.record(rules_.items, "precoro", raw, REFS) for raw in pc],
            [ITEMS.record(rules_.items, "quickbooks", raw, REFS) for raw in qb])


def sync_items(pc, qb, state=SyncState(), rules_=DEFAULT):
    p, q = records(pc, qb, rules_)
    return reconcile(ITEMS, rules_.items, p, q, state, refs=REFS).actions


def linked(pid, qid, name=None):
    baseline = {"name": {"precoro": name, "quickbooks": name}} if name else {}
    return SyncState(links={str(pid): LinkState(str(pid), str(qid), baseline, {"precoro": True, "quickbooks": True})})


def test_i1_sync_items_links_identical_names_only():
    actions = sync_items([pc_item(1, "Copy paper A4"), pc_item(2, "copy paper a4 ")], [qb_item(16, "Copy paper A4")])
    links = [a for a in actions if a.kind == "link"]
    assert [(a.precoro_id, a.quickbooks_id) for a in links] == [("1", "16")]


def test_i1_i7_linked_item_follows_quickbooks_data():
    actions = sync_items([pc_item(1, "Paper", sku="P", price=4.2)],
                         [qb_item(16, "Paper", sku="CP-1", cost=4.5, desc="500 sheets", vendor="8", account="2")])
    [update] = [a for a in actions if a.kind == "update"]
    assert update.target == "precoro" and update.depends_on
    assert {c.field: c.after for c in update.changes} == {
        "sku": "CP-1", "price": "4.5", "description": "500 sheets", "supplier": "8", "chart_of_accounts": "2"}


def test_i2_quickbooks_rename_reaches_precoro_on_sync_items():
    [action] = sync_items([pc_item(1, "Paper")], [qb_item(16, "Copy paper")], linked(1, 16, "Paper"))
    assert (action.kind, action.target, action.changes[0].field, action.changes[0].after) == ("update", "precoro", "name", "Copy paper")


def test_i3_a_name_longer_than_precoro_allows_is_cut_and_the_plan_says_so():
    long_rules = rules.loads("version: 1\nitems:\n  fields:\n    name: {max_length: {precoro: 10}}\n")
    [action] = sync_items([pc_item(1, "Short")], [qb_item(16, "A much longer name")], linked(1, 16, "Short"), long_rules)
    [change] = action.changes
    assert change.after == "A much lon" and "cut from 18 to 10" in change.note


# Names around both sides' limits (QuickBooks 100, Precoro 300), with spaces Precoro would trim.
NAMES = st.builds(lambda pad, text, tail: pad + text + tail, st.sampled_from(["", " ", "  "]),
                  st.text(alphabet="ab É\t", max_size=320), st.sampled_from(["", " ", "\t "]))


@given(NAMES)
def test_i1_i3_the_match_key_is_the_name_as_both_sides_would_keep_it(name):
    """The key is made from the name cut for QuickBooks, then kept as Precoro keeps it (trimmed,
    cut), normalized by the rules' `normalize`: how a record's key is computed at any length."""
    [p], [q] = records([pc_item(1, "x")], [qb_item(2, "x")])
    p.values["name"] = name
    rule = DEFAULT.items.field("name")
    expected = fit(fit(name, rule, "quickbooks")[0], rule, "precoro")[0]
    reconciler = ITEMS.reconciler(ITEMS, DEFAULT.items, [p], [q], SyncState(), refs=REFS)
    assert reconciler.match_key(p)[0] == rules.transforms.normalize_key(expected, DEFAULT.items.match.normalize)


def test_i4_candidates_are_active_unlinked_items_ranked():
    p, q = records([pc_item(1, "Toner black", sku="TN-2420", price=58)],
                   [qb_item(17, "Printer toner, black", sku="TN-2420", cost=61), qb_item(18, "Black paint", cost=9),
                    qb_item(19, "Toner cyan", cost=60)])
    suggestions = CandidateIndex(q).suggest(p[0])
    assert suggestions[0].quickbooks_id == "17" and "same SKU" in suggestions[0].reasons
    assert {s.quickbooks_id for s in suggestions} == {"17", "18", "19"}


def test_i4_edited_copies_rank_first_against_near_twins_swapped_words_a_typo_a_dropped_word():
    # From the bench's misses: a twin with the same words in another order, or one word changed.
    catalogue = [qb_item(1, "Bacejugu babari babavuga 464mm"), qb_item(2, "Bacejugu babavuga babari 287ml"),
                 qb_item(3, "Balu babari babavuga badaroso 208pcs"), qb_item(4, "Babari babavuga balu 220pcs"),
                 qb_item(5, "Copy paper A4 white"), qb_item(6, "Copy paper A3 white"),
                 qb_item(7, "Ergonomic office chair"), qb_item(8, "Ergonomic office desk")]
    edited = {"Bacejugu babari babavuga": "1", "Balu babari babavuga 208pcs": "3",  # a word dropped
              "White copy paper A4": "5",  # words swapped
              "Ergonomic ofice chair": "7"}  # a typo
    p, q = records([pc_item(i, name) for i, name in enumerate(edited, 1)], catalogue)
    index = CandidateIndex(q)
    assert {item.values["name"]: index.suggest(item)[0].quickbooks_id for item in p} == edited


def test_i5_mapping_with_equal_names_keeps_the_name_and_takes_the_cost():
    p, q = records([pc_item(1, "Paper", sku="P", price=4.2)], [qb_item(16, "Paper", sku="Q", cost=4.5)])
    actions = mapping_actions(ITEMS, DEFAULT.items, [(p[0], q[0])], REFS)
    [update] = [a for a in actions if a.kind == "update"]
    assert {c.field: c.after for c in update.changes} == {"price": "4.5"}


def test_i6_mapping_with_different_names_imports_fields_but_keeps_both_names():
    p, q = records([pc_item(2, "Toner black", sku="T", price=58)],
                   [qb_item(17, "Printer toner", sku="TN", cost=61, desc="d", vendor="8", account="3")])
    actions = mapping_actions(ITEMS, DEFAULT.items, [(p[0], q[0])], REFS)
    link = next(a for a in actions if a.kind == "link")
    update = next(a for a in actions if a.kind == "update")
    assert link.link.how == "manual"
    assert {c.field: c.after for c in update.changes} == {
        "sku": "TN", "description": "d", "price": "61", "supplier": "8", "chart_of_accounts": "3"}


def test_i7_free_of_charge_item_keeps_its_price():
    actions = sync_items([pc_item(3, "Sample kit", price=0, free=True)], [qb_item(18, "Sample kit", cost=25)])
    assert not [c for a in actions for c in a.changes if c.field == "price"]
    p, q = records([pc_item(3, "Sample", price=0, free=True)], [qb_item(18, "Sample", cost=25)])
    assert not [c for a in mapping_actions(ITEMS, DEFAULT.items, [(p[0], q[0])], REFS) for c in a.changes if c.field == "price"]


def test_i7_reference_without_counterpart_is_not_written_and_says_why():
    actions = sync_items([pc_item(1, "Paper")], [qb_item(16, "Paper", vendor="99", sku="S")])
    [update] = [a for a in actions if a.kind == "update"]
    assert [c.field for c in update.changes] == ["sku"]
    assert "vendor 99 is not linked" in update.note
    # With nothing else to write, the reason still shows, as a blocked entry.
    actions = sync_items([pc_item(1, "Paper")], [qb_item(16, "Paper", vendor="99")], linked(1, 16, "Paper"))
    assert [(a.kind, "vendor 99" in a.note) for a in actions] == [("blocked", True)]


def test_i8_deleting_a_linked_precoro_item_frees_the_quickbooks_item():
    [action] = sync_items([], [qb_item(16, "Paper")], linked(1, 16, "Paper"))
    assert (action.kind, action.precoro_id, action.quickbooks_id) == ("unlink", "1", "16")


def test_i9_inactive_quickbooks_item_is_unlinked_and_not_matched():
    [action] = sync_items([pc_item(1, "Fax")], [qb_item(16, "Fax", active=False)], linked(1, 16, "Fax"))
    assert action.kind == "unlink" and (action.hold.reason, action.hold.other_id) == ("quickbooks_inactive", "16")
    assert sync_items([pc_item(1, "Fax")], [qb_item(16, "Fax", active=False)]) == []  # never matched while inactive


def test_i9_active_again_links_again_on_the_next_sync_items():
    held = SyncState(holds={"1": Hold("1", "quickbooks_inactive", "16")})
    actions = sync_items([pc_item(1, "Fax renamed")], [qb_item(16, "Fax")], held)
    link = next(a for a in actions if a.kind == "link")
    assert (link.precoro_id, link.quickbooks_id) == ("1", "16")


def test_i10_merged_item_moves_the_link_to_the_survivor():
    # QuickBooks merged "Landscape" (21) into "Landscaping" (20): 21 is inactive under the survivor's name.
    qb = [qb_item(20, "Landscaping", cost=80), qb_item(21, "Landscaping", active=False, cost=75)]
    actions = sync_items([pc_item(5, "Landscape", price=75)], qb, linked(5, 21, "Landscape"))
    move = next(a for a in actions if a.kind == "link")
    assert (move.precoro_id, move.quickbooks_id, move.link.how) == ("5", "20", "merged")
    assert not [a for a in actions if a.kind == "unlink"]


def test_i10_plain_deactivation_is_not_a_merge():
    qb = [qb_item(20, "Landscaping"), qb_item(21, "Landscape", active=False)]
    [action] = sync_items([pc_item(5, "Landscape")], qb, linked(5, 21, "Landscape"))
    assert action.kind == "unlink"


def test_i10_when_merged_unlink_comes_from_the_rules_file():
    unlink_rules = rules.loads("version: 1\nitems:\n  when_merged: unlink\n")
    qb = [qb_item(20, "Landscaping"), qb_item(21, "Landscaping", active=False)]
    [action] = sync_items([pc_item(5, "Landscape")], qb, linked(5, 21, "Landscape"), unlink_rules)
    assert action.kind == "unlink"


def test_i7_a_reference_without_counterpart_is_never_written_as_empty():
    from engine.writes import build_write

    write, waits = build_write(DEFAULT.items, "precoro", "update", "/items",
                               {"supplier": "99", "chart_of_accounts": "77", "sku": "S"}, refs=REFS, record_id="5")
    assert write.values == {"sku": "S"} and waits == []
    write, _ = build_write(DEFAULT.items, "precoro", "update", "/items", {"supplier": "8", "chart_of_accounts": "2"},
                           refs=REFS, record_id="5")
    assert write.values == {"supplier.id": "2", "itemCustomFields.1": "11"}
