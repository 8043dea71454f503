"""The pure core against SPEC S1-S9 and W1, with records built from real wire shapes."""

from __future__ import annotations

import rules
from engine.entities import SUPPLIERS
from engine.reconcile import Hold, LinkState, SyncState, reconcile

DEFAULT = rules.loads("version: 1\n")


def vendor(id, name, *, sync="0", active=True, currency="USD", updated="2026-11-20T10:00:00-08:00", **fields):
    raw = {"Id": str(id), "SyncToken": sync, "DisplayName": name + (" (deleted)" if not active else ""),
           "Active": active, "CurrencyRef": {"value": currency, "name": currency},
           "MetaData": {"CreateTime": "2026-01-01T00:00:00-08:00", "LastUpdatedTime": updated}}
    if "phone" in fields:
        raw["PrimaryPhone"] = {"FreeFormNumber": fields["phone"]}
    if "emails" in fields:
        raw["PrimaryEmailAddr"] = {"Address": fields["emails"]}
    if "city" in fields:
        raw["BillAddr"] = {"City": fields["city"]}
    return raw


def supplier(id, name, *, enable=True, currency="USD", currencies=None, emails=(), updated="2026-11-20T18:00:00+00:00", **fields):
    raw = {"id": int(id), "name": name, "enable": enable, "currency": currency,
           "currencies": currencies or [currency], "updateDate": updated,
           "contacts": {"data": [{"id": i + 1, "name": e.split("@")[0], "email": e, "phone": None} for i, e in enumerate(emails)]}}
    raw.update(fields)
    return raw


def plan(pc, qb, state=SyncState(), rules_=DEFAULT):
    entity = rules_.suppliers
    p = [SUPPLIERS.record(entity, "precoro", raw) for raw in pc]
    q = [SUPPLIERS.record(entity, "quickbooks", raw) for raw in qb]
    return reconcile(SUPPLIERS, entity, p, q, state)


def linked(pid, qid, baseline=None, active=None):
    return SyncState(links={str(pid): LinkState(str(pid), str(qid), baseline or {}, active or {"precoro": True, "quickbooks": True})})


def base(**fields):
    return {name: {"precoro": value, "quickbooks": value} for name, value in fields.items()}


def kinds(result):
    return sorted((a.kind, a.target) for a in result.actions)


# -- S1 two-way fields ---------------------------------------------------------------------------


def test_s1_edit_in_precoro_reaches_quickbooks():
    state = linked(1, 7, base(name="Acme", phone="111", currency="USD"))
    result = plan([supplier(1, "Acme", phone="222")], [vendor(7, "Acme", phone="111")], state)
    [action] = result.actions
    assert (action.kind, action.target) == ("update", "quickbooks")
    [change] = action.changes
    assert (change.field, change.before, change.after) == ("phone", "111", "222")
    assert action.versions == {"precoro": "2026-11-20T18:00:00+00:00", "quickbooks": "0"}


def test_s1_edit_in_quickbooks_reaches_precoro():
    state = linked(1, 7, base(name="Acme", city="Paris"))
    result = plan([supplier(1, "Acme", city="Paris")], [vendor(7, "Acme Ltd", city="Lyon", sync="3")], state)
    [action] = result.actions
    assert (action.kind, action.target) == ("update", "precoro")
    assert {(c.field, c.before, c.after) for c in action.changes} == {("name", "Acme", "Acme Ltd"), ("city", "Paris", "Lyon")}


def test_s1_nothing_changed_plans_nothing():
    state = linked(1, 7, base(name="Acme", phone="111"))
    assert plan([supplier(1, "Acme", phone="111")], [vendor(7, "Acme", phone="111")], state).actions == []


# -- S2 three-way merge ----------------------------------------------------------------------------


def test_s2_both_sides_changed_differently_is_a_conflict_by_default():
    state = linked(1, 7, base(name="Acme", phone="111"))
    result = plan([supplier(1, "Acme", phone="222")], [vendor(7, "Acme", phone="333")], state)
    [action] = result.actions
    assert action.kind == "conflict" and action.decision is None and not action.executable
    [change] = action.changes
    assert (change.precoro, change.quickbooks, change.baseline) == ("222", "333", "111")
    # What each decision would send: taking Precoro's value writes QuickBooks, and the other way round.
    taking_precoro, taking_quickbooks = action.alternatives["precoro"], action.alternatives["quickbooks"]
    assert (taking_precoro.side, taking_precoro.values) == ("quickbooks", {"PrimaryPhone.FreeFormNumber": "222"})
    assert (taking_quickbooks.side, taking_quickbooks.values) == ("precoro", {"phone": "333"})
    assert (taking_precoro.record_id, taking_precoro.version) == ("7", "0")


def test_s2_same_change_on_both_sides_writes_nothing_and_refreshes_the_baseline():
    state = linked(1, 7, base(name="Acme", phone="111"))
    result = plan([supplier(1, "Acme", phone="222")], [vendor(7, "Acme", phone="222")], state)
    assert result.actions == []
    [agreed] = result.agreed_baselines
    assert (agreed["precoro_id"], agreed["quickbooks_id"]) == ("1", "7")
    assert agreed["fields"]["phone"] == {"precoro": "222", "quickbooks": "222"}
    assert "name" not in agreed["fields"]  # already the baseline


def test_s2_entity_policy_precoro_wins_comes_from_the_rules_file():
    custom = rules.loads("version: 1\nsuppliers:\n  conflict: precoro_wins\n")
    state = linked(1, 7, base(name="Acme", phone="111"))
    [action] = plan([supplier(1, "Acme", phone="222")], [vendor(7, "Acme", phone="333")], state, custom).actions
    assert (action.kind, action.target, action.changes[0].after) == ("update", "quickbooks", "222")


def test_s2_field_policy_overrides_the_entity_policy():
    custom = rules.loads(
        "version: 1\nsuppliers:\n  conflict: precoro_wins\n  fields:\n"
        "    name: {precoro: name, quickbooks: DisplayName}\n"
        "    phone: {precoro: phone, quickbooks: PrimaryPhone.FreeFormNumber, conflict: quickbooks_wins}\n"
    )
    state = linked(1, 7, base(name="Acme", phone="111"))
    [action] = plan([supplier(1, "Acme", phone="222")], [vendor(7, "Acme", phone="333")], state, custom).actions
    assert (action.kind, action.target, action.changes[0].after) == ("update", "precoro", "333")


def test_s2_newest_wins_compares_the_remote_timestamps():
    custom = rules.loads("version: 1\nsuppliers:\n  conflict: newest_wins\n")
    state = linked(1, 7, base(name="Acme", phone="111"))
    # QuickBooks last changed it at 10:00-08:00, that is 18:00 UTC.
    newer_precoro = supplier(1, "Acme", phone="222", updated="2026-11-20T18:01:00+00:00")
    [action] = plan([newer_precoro], [vendor(7, "Acme", phone="333")], state, custom).actions
    assert (action.target, action.changes[0].after) == ("quickbooks", "222")
    older_precoro = supplier(1, "Acme", phone="222", updated="2026-11-20T17:59:00+00:00")
    [action] = plan([older_precoro], [vendor(7, "Acme", phone="333")], state, custom).actions
    assert (action.target, action.changes[0].after) == ("precoro", "333")


def test_s2_direction_to_precoro_never_writes_quickbooks():
    custom = rules.loads(
        "version: 1\nsuppliers:\n  fields:\n    name: {precoro: name, quickbooks: DisplayName}\n"
        "    phone: {precoro: phone, quickbooks: PrimaryPhone.FreeFormNumber, direction: to_precoro}\n"
    )
    state = linked(1, 7, base(name="Acme", phone="111"))
    [action] = plan([supplier(1, "Acme", phone="222")], [vendor(7, "Acme", phone="111")], state, custom).actions
    assert (action.target, action.changes[0].after) == ("precoro", "111")


# -- S3 emails -------------------------------------------------------------------------------------


def test_s3_quickbooks_email_list_becomes_precoro_contacts_in_order_without_duplicates():
    state = linked(1, 7, base(name="Acme", emails=("a@x.com",)))
    qb = vendor(7, "Acme", emails="b@x.com,  a@x.com, B@x.com, ")
    [action] = plan([supplier(1, "Acme", emails=["a@x.com"])], [qb], state).actions
    [change] = action.changes
    assert action.target == "precoro"
    assert change.after == ("b@x.com", "a@x.com")


def test_s3_precoro_contacts_become_one_comma_separated_value():
    state = linked(1, 7, base(name="Acme", emails=("a@x.com",)))
    [action] = plan([supplier(1, "Acme", emails=["a@x.com", "c@y.org"])], [vendor(7, "Acme", emails="a@x.com")], state).actions
    assert action.target == "quickbooks" and action.changes[0].after == ("a@x.com", "c@y.org")


def test_s3_contact_mapping_off_leaves_contacts_alone():
    off = rules.loads("version: 1\nsuppliers:\n  fields:\n    emails: {precoro: 'contacts[].email', quickbooks: PrimaryEmailAddr.Address, transform: email_list, enabled: false}\n")
    state = linked(1, 7, base(name="Acme"))
    assert plan([supplier(1, "Acme", emails=["a@x.com"])], [vendor(7, "Acme", emails="z@z.com")], state, off).actions == []


# -- S4 / S5 deactivation ---------------------------------------------------------------------------


def test_s4_deactivated_in_quickbooks_unlinks_and_keeps_the_precoro_supplier_active():
    state = linked(1, 7, base(name="Acme"))
    [action] = plan([supplier(1, "Acme")], [vendor(7, "Acme", active=False, sync="2")], state).actions
    assert (action.kind, action.target) == ("unlink", None)
    assert action.hold.reason == "quickbooks_inactive"


def test_s4_a_held_supplier_is_not_pushed_back_as_a_new_vendor():
    state = SyncState(holds={"1": Hold("1", "quickbooks_inactive")})
    assert plan([supplier(1, "Acme")], [vendor(7, "Acme", active=False)], state).actions == []


def test_s4_reactivated_vendor_is_matched_again_by_the_rule_not_silently_relinked():
    state = SyncState(holds={"1": Hold("1", "quickbooks_inactive")})
    [action, *rest] = plan([supplier(1, "Acme")], [vendor(7, "Acme")], state).actions
    assert (action.kind, action.precoro_id, action.quickbooks_id) == ("link", "1", "7")
    assert action.approved  # proposed in the plan like any match; applied only with the plan


def test_s4_deactivated_name_suffix_is_not_a_rename():
    state = linked(1, 7, base(name="Acme"), active={"precoro": False, "quickbooks": False})
    assert plan([supplier(1, "Acme", enable=False)], [vendor(7, "Acme", active=False)], state).actions == []


def test_s5_deactivated_in_precoro_makes_the_vendor_inactive():
    state = linked(1, 7, base(name="Acme"))
    [action] = plan([supplier(1, "Acme", enable=False)], [vendor(7, "Acme", sync="4")], state).actions
    assert (action.kind, action.target, action.versions["quickbooks"]) == ("deactivate", "quickbooks", "4")


def test_s5_behaviour_comes_from_the_rules_file():
    custom = rules.loads("version: 1\nsuppliers:\n  when_inactive: {in_precoro: ignore}\n")
    state = linked(1, 7, base(name="Acme"))
    assert plan([supplier(1, "Acme", enable=False)], [vendor(7, "Acme")], state, custom).actions == []


# -- S7 matching -----------------------------------------------------------------------------------


def test_s7_same_name_ignoring_case_and_spaces_and_same_currency_links():
    result = plan([supplier(1, "  ACME & Sons ")], [vendor(7, "Acme & Sons")])
    assert kinds(result) == [("conflict", None), ("link", None)]
    link = next(a for a in result.actions if a.kind == "link")
    assert link.quickbooks_id == "7"
    # Linked, but which spelling to keep is the operator's call (nothing overwritten silently).
    conflict = next(a for a in result.actions if a.kind == "conflict")
    assert [(c.field, c.precoro, c.quickbooks) for c in conflict.changes] == [("name", "  ACME & Sons ", "Acme & Sons")]


def test_s7_differing_fields_of_a_new_link_wait_for_the_link_and_are_conflicts():
    result = plan([supplier(1, "Acme", phone="1")], [vendor(7, "Acme", phone="2")])
    link = next(a for a in result.actions if a.kind == "link")
    conflict = next(a for a in result.actions if a.kind == "conflict")
    assert conflict.depends_on == [link.id]
    assert link.link.baseline["name"] == {"precoro": "Acme", "quickbooks": "Acme"}


def test_s7_other_currency_is_not_a_match():
    result = plan([supplier(1, "Acme", currency="EUR")], [vendor(7, "Acme", currency="USD")], rules_=rules.loads(
        "version: 1\nsuppliers:\n  create: {in_quickbooks: false, in_precoro: false}\n"))
    assert result.actions == []


def test_s7_two_candidates_are_shown_never_guessed():
    result = plan([supplier(1, "Acme"), supplier(2, "acme")], [vendor(7, "Acme")])
    assert kinds(result) == [("ambiguous", None), ("ambiguous", None)]
    assert all(a.candidates[0]["quickbooks_id"] == "7" for a in result.actions)


def test_s7_a_supplier_with_several_currencies_is_not_matched_automatically():
    result = plan([supplier(1, "Acme", currencies=["USD", "EUR"])], [vendor(7, "Acme")])
    [action] = result.actions
    assert action.kind == "blocked" and "several currencies" in action.note


def test_s7_match_keys_come_from_the_rules_file():
    by_name_only = rules.loads("version: 1\nsuppliers:\n  match: {keys: [name]}\n")
    result = plan([supplier(1, "Acme", currency="EUR")], [vendor(7, "Acme", currency="USD")], rules_=by_name_only)
    assert kinds(result) == [("link", None)]


# -- S8 / S9 creates ---------------------------------------------------------------------------------


def test_s8_unmatched_records_are_created_on_the_other_side():
    result = plan([supplier(1, "Only in Precoro", phone="5")], [vendor(7, "Only in QuickBooks")])
    assert kinds(result) == [("create", "precoro"), ("create", "quickbooks")]
    to_qb = next(a for a in result.actions if a.target == "quickbooks")
    assert {c.field: c.after for c in to_qb.changes} == {"name": "Only in Precoro", "phone": "5", "currency": "USD"}


def test_s8_create_directions_come_from_the_rules_file():
    custom = rules.loads("version: 1\nsuppliers:\n  create: {in_quickbooks: false}\n")
    result = plan([supplier(1, "Only in Precoro")], [vendor(7, "Only in QuickBooks")], rules_=custom)
    assert kinds(result) == [("create", "precoro")]


def test_s9_w9_a_create_that_would_clash_with_a_quickbooks_name_is_blocked_with_the_reason():
    result = plan([supplier(1, "Acme", currency="EUR")], [vendor(7, "Acme", currency="USD")])
    assert not [a for a in result.actions if a.target == "quickbooks"]
    [blocked] = [a for a in result.actions if a.kind == "blocked" and a.precoro_id == "1"]
    assert "vendor 7 'Acme'" in blocked.note and "6240" in blocked.note and "Fix:" in blocked.note


def test_w9_the_name_s_holder_named_is_the_first_a_full_read_meets_whatever_order_they_came_in():
    # Two inactive vendors hold the name (neither matched): the lower id is named, as read in full.
    result = plan([supplier(1, "Acme", currency="EUR")],
                  [vendor(12, "Acme", currency="USD", active=False), vendor(3, "Acme", currency="USD", active=False)])
    [blocked] = [a for a in result.actions if a.kind == "blocked" and a.precoro_id == "1"]
    assert "vendor 3 'Acme' (inactive)" in blocked.note and "vendor 12" not in blocked.note


def plan_with(pc, qb, state=SyncState(), rules_=DEFAULT, elsewhere=None):
    entity = rules_.suppliers
    p = [SUPPLIERS.record(entity, "precoro", raw) for raw in pc]
    q = [SUPPLIERS.record(entity, "quickbooks", raw) for raw in qb]
    return reconcile(SUPPLIERS, entity, p, q, state, names_elsewhere=elsewhere)


def test_w9_a_vendor_named_like_a_quickbooks_customer_is_blocked_not_approved():
    result = plan_with([supplier(1, "Harbor Café")], [], elsewhere={"harbor café": "customer 3 'Harbor Café'"})
    [action] = result.actions
    assert action.kind == "blocked" and not action.executable and "customer 3" in action.note


def test_w9_the_name_of_an_inactive_vendor_is_taken_too():
    result = plan([supplier(1, "Old Vendor Co")], [vendor(9, "Old Vendor Co", active=False)])
    [action] = result.actions
    assert action.kind == "blocked" and "(inactive)" in action.note


def test_w9_forbidden_characters_and_lengths_are_blocked_with_a_fix():
    long = "L" * 501
    result = plan([supplier(1, "Parts: Ltd"), supplier(2, long), supplier(3, "Tabs\tInc".replace("\\t", "\t"))], [])
    notes = {a.precoro_id: a.note for a in result.actions}
    assert {a.kind for a in result.actions} == {"blocked"}
    assert "':'" in notes["1"] and "2040" in notes["1"]
    assert "at most 500" in notes["2"] and "max_length" in notes["2"]


def test_w9_joined_emails_longer_than_quickbooks_holds_block_only_that_field():
    emails = [f"person{i}@very-long-domain-name.example" for i in range(4)]  # 4 x 36 characters, joined > 100
    state = linked(1, 7, base(name="Acme", currency="USD", phone="1", emails=()))
    result = plan([supplier(1, "Acme", emails=emails, phone="2")], [vendor(7, "Acme", phone="1")], state)
    by_kind = {a.kind: a for a in result.actions}
    assert [c.field for c in by_kind["update"].changes] == ["phone"]  # the rest of the write goes on
    assert [c.field for c in by_kind["blocked"].changes] == ["emails"] and "at most 100" in by_kind["blocked"].note


def test_w9_two_creates_of_one_name_the_second_is_blocked():
    result = plan([supplier(1, "Twin", currency="USD"), supplier(2, "Twin", currency="EUR")], [])
    assert sorted(a.kind for a in result.actions) == ["blocked", "create"]


def test_w9_names_compare_in_nfc_so_look_alikes_match():
    composed, decomposed = "Caf\u00e9 Noir", "Cafe\u0301 Noir"
    result = plan([supplier(1, composed)], [vendor(7, decomposed)])
    assert [a.kind for a in result.actions] == ["link"]


def test_w9_text_precoro_trims_is_not_rewritten_forever():
    state = linked(1, 7, base(name="Spaced Co", currency="USD"))
    state.links["1"].baseline["name"] = {"precoro": "Spaced Co", "quickbooks": "  Spaced Co  "}
    assert plan([supplier(1, "Spaced Co")], [vendor(7, "  Spaced Co  ")], state).actions == []
    # and a first link of the two spellings agrees at once
    assert [a.kind for a in plan([supplier(1, "Spaced Co")], [vendor(7, "  Spaced Co  ")]).actions] == ["link"]


# -- W1 ----------------------------------------------------------------------------------------------


def test_w1_reconcile_is_deterministic():
    pc = [supplier(i, f"S{i}", phone=str(i)) for i in range(1, 30)]
    qb = [vendor(i, f"S{i}", phone=str(i + 1)) for i in range(1, 30)]
    first = [a.to_json() for a in plan(pc, qb).actions]
    second = [a.to_json() for a in plan(list(reversed(pc)), list(reversed(qb))).actions]
    assert first == second
