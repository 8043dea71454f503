"""engine.review: the pure views the review screen (and the CLI) are built on."""

from __future__ import annotations

import copy

from demo_session import demo_plan, with_writes
from engine.plan import Action, FieldChange, Plan
from engine.review import (
    Outcome,
    ReviewFilter,
    SearchIndex,
    apply_summary,
    carried_decisions,
    entity_counts,
    outcomes_from_history,
    review_rows,
    source_line,
)


def act(id, kind="update", target="quickbooks", pid="1", qid="2", entity="supplier", **kw) -> Action:
    action = Action(id=id, entity=entity, kind=kind, target=target, name=kw.pop("name", f"Supplier {id}"),
                    precoro_id=pid, quickbooks_id=qid, changes=[FieldChange("city", "a", "b", "b", "a", "a")], **kw)
    with_writes(action)
    return action


def test_w1_one_write_per_record_as_apply_folds_them():
    actions = [act("u1"), act("c1", kind="conflict", target=None, decision="precoro"),
               act("u2", target="precoro"), act("n1", kind="create", qid=None)]
    summary = apply_summary(actions)
    # The update and the decided conflict on vendor 2 are one QuickBooks write.
    assert summary.records["quickbooks"] == {"update": 1, "create": 1}
    assert summary.records["precoro"] == {"update": 1}
    assert summary.total_writes == 3 and summary.actions == 4


def test_w1_what_does_not_run_is_counted_with_its_reason():
    link = act("l1", kind="link", target=None)
    actions = [
        link,
        act("d1", depends_on=["l1"]),
        act("c1", kind="conflict", target=None),
        act("c2", kind="conflict", target=None, decision="skip", pid="3", qid="4"),
        act("a1", kind="ambiguous", target=None, qid=None),
        act("b1", kind="blocked", target=None, qid=None),
        act("s1", target="precoro", approved=False),
    ]
    summary = apply_summary(actions)
    assert summary.links == 1 and summary.records["quickbooks"] == {"update": 1}
    assert summary.held == {"undecided conflict": 1, "skipped conflict": 1, "ambiguous": 1, "blocked": 1,
                            "not approved": 1}
    link.approved = False
    assert apply_summary(actions).held["waiting for another action"] == 1


def test_w1_deactivation_and_update_of_one_record_are_one_write():
    summary = apply_summary([act("u1"), act("d1", kind="deactivate")])
    assert summary.records["quickbooks"] == {"deactivate": 1}
    assert summary.writes("quickbooks") == 1


def test_apply_summary_of_only_the_failed():
    plan = demo_plan()
    northwind = next(a for a in plan.actions if a.name == "Northwind Traders")
    summary = apply_summary(plan.actions, only=[northwind.id])
    assert summary.records["quickbooks"] == {"create": 1} and summary.actions == 1


def test_rows_are_grouped_by_entity_and_kind_in_plan_order():
    plan = demo_plan()
    rows = review_rows(plan.actions, ReviewFilter())
    headers = [(g.entity, g.kind, g.count) for g in rows.groups]
    assert headers[:2] == [("supplier", "link", 1), ("supplier", "unlink", 1)]  # suppliers first: items depend on them
    assert ("item", "update", 2) in headers
    assert rows.matched == len(plan.actions) == len([r for r in rows.rows if r >= 0])
    assert len(rows) == rows.matched + len(rows.groups)
    assert rows.rows[0] == -1  # a header opens the list


def test_filters_combine():
    plan = demo_plan()
    flt = ReviewFilter(entity="supplier", target="quickbooks")
    shown = [plan.actions[i] for i in review_rows(plan.actions, flt).rows if i >= 0]
    assert shown and all(a.entity == "supplier" and a.write_target == "quickbooks" for a in shown)
    conflicts = [plan.actions[i] for i in review_rows(plan.actions, ReviewFilter(show="conflicts")).rows if i >= 0]
    assert [a.kind for a in conflicts] == ["conflict", "conflict"]


def test_attention_and_errors_include_the_last_apply():
    plan = demo_plan()
    northwind = next(a for a in plan.actions if a.name == "Northwind Traders")
    outcomes = {northwind.id: Outcome("failed", "QuickBooks error 6240: Duplicate Name Exists Error")}
    errors = [plan.actions[i].name for i in review_rows(plan.actions, ReviewFilter(show="errors"), outcomes).rows if i >= 0]
    assert errors == ["Northwind Traders", "Wayne Enterprises"]
    attention = review_rows(plan.actions, ReviewFilter(show="attention"), outcomes)
    assert attention.matched == 5  # 2 conflicts, 1 ambiguous, 1 blocked, 1 failed


def test_search_finds_names_and_ids_without_regard_to_case():
    plan = demo_plan()
    index = SearchIndex(plan.actions)
    for text, expected in (("MÜLLER", ["Bürobedarf Müller GmbH"]), ("o'brien", ["O'Brien & Sons"]),
                           ("106", ["Fabrikam, Inc."])):
        flt = ReviewFilter(search=text)
        with_index = [plan.actions[i].name for i in review_rows(plan.actions, flt, index=index).rows if i >= 0]
        without = [plan.actions[i].name for i in review_rows(plan.actions, flt).rows if i >= 0]
        assert with_index == without == expected


def test_s2_decisions_carry_to_an_identical_action_only():
    previous = demo_plan()
    for action in previous.actions:
        if action.kind == "conflict":
            action.decision = "precoro"
    new = demo_plan()
    changed = next(a for a in new.actions if a.name == "Société Générale d'Équipement")
    changed.changes[0].quickbooks = "FR-9999"  # QuickBooks moved on: a new question
    carried = carried_decisions(previous.actions, new.actions)
    assert [(new.action(aid).name, d) for aid, d, _ in carried] == [("Fabrikam, Inc.", "precoro")]


def test_w9_what_a_plan_itself_left_unapproved_is_not_carried_as_a_persons_skip():
    previous, new = demo_plan(), demo_plan()
    skipped, failed = [a for a in previous.actions if a.kind == "create"][:2]
    skipped.approved = False  # a person's skip: carried
    failed.approved, failed.unapproved_why = False, "failed before: 6240"  # the plan's own: not carried
    carried = {aid: approved for aid, _, approved in carried_decisions(previous.actions, new.actions)}
    assert carried == {skipped.id: False}


def test_w4_outcomes_from_the_audit_take_the_latest_row():
    rows = [
        {"plan_id": "p1", "action_id": "a", "status": "applied", "reason": ""},
        {"plan_id": "p1", "action_id": "a", "status": "failed", "reason": "older"},
        {"plan_id": "p0", "action_id": "b", "status": "failed", "reason": "another plan"},
    ]
    assert outcomes_from_history(rows, "p1") == {"a": Outcome("applied", "")}


def test_counts_per_entity():
    plan = demo_plan()
    northwind = next(a for a in plan.actions if a.name == "Northwind Traders")
    counts = {c.entity: c for c in entity_counts(plan, {northwind.id: Outcome("failed", "x")},
                                                 {"supplier": 40, "item": 7}, entities=["supplier", "item"])}
    supplier = counts["supplier"]
    assert (supplier.linked, supplier.unlinked, supplier.conflicts, supplier.undecided, supplier.errors) == (40, 5, 2, 2, 2)
    assert counts["item"].pending == 2 and counts["item"].errors == 0


def test_w5_source_line():
    assert source_line("a\nb\n", 2) == "b"
    assert source_line("a\n", 5) is None


def test_review_never_changes_the_plan():
    plan = demo_plan()
    before = copy.deepcopy(plan.to_json())
    review_rows(plan.actions, ReviewFilter(show="attention", search="a"), index=SearchIndex(plan.actions))
    apply_summary(plan.actions)
    entity_counts(plan)
    assert plan.to_json() == before
    assert isinstance(plan, Plan)


def test_w9_a_blocked_linked_pair_is_unmapped_not_mapped():
    from engine.review import can_map, can_unmap

    refused_update = act("b1", kind="blocked", target=None)  # both ids: a linked pair whose update is refused
    refused_create = act("b2", kind="blocked", target=None, qid=None)  # one id: nothing linked yet
    invoice = act("b3", kind="blocked", target=None, qid=None, entity="invoice")
    assert not can_map(refused_update) and can_unmap(refused_update)
    assert can_map(refused_create) and not can_unmap(refused_create)
    assert not can_map(invoice) and not can_unmap(invoice)  # documents follow their links
