"""U2: the approval policy is a pure function of (action, policy): what may go without a person."""

from __future__ import annotations

import pytest

import rules
from engine.plan import Action, FieldChange, LinkFacts
from engine.policy import braked, verdict, verdicts
from rules.model import SafetyRule


def policy(text: str = ""):
    return rules.loads(f"version: 1\n{text}").policy


def action(kind: str, entity: str = "supplier", *, changes=(), how: str | None = None, id: str = "a1",
           depends_on=(), approved: bool = True, note: str = "", precoro_id: str = "p1") -> Action:
    return Action(id=id, entity=entity, kind=kind, target="quickbooks" if kind in ("create", "update") else None,
                  name=id, precoro_id=precoro_id, changes=[FieldChange(name, after=value) for name, value in changes],
                  link=LinkFacts(how) if how else None, depends_on=list(depends_on), approved=approved, note=note)


def test_u2_the_shipped_policy_applies_exact_links_list_options_and_contact_details():
    shipped = rules.load("rules.yaml").policy
    assert verdict(action("link", how="matched"), shipped).apply
    assert verdict(action("link", how="origin"), shipped).apply
    assert verdict(action("create", "class"), shipped).apply
    assert verdict(action("update", changes=[("phone", "1"), ("emails", "a@b.c")]), shipped).apply
    assert verdict(action("update", "item", changes=[("description", "x")]), shipped).apply
    held = verdict(action("create"), shipped)
    assert not held.apply and "policy.creates does not list suppliers" in held.reason
    held = verdict(action("update", "item", changes=[("description", "x"), ("price", 3)]), shipped)
    assert not held.apply and held.reason == "changes price (not in policy.updates.items)"
    assert not verdict(action("create", "invoice", changes=[("total", 1.0)]), shipped).apply  # documents: null


@pytest.mark.parametrize("kind", ["conflict", "unlink", "deactivate", "reactivate", "ambiguous", "blocked"])
def test_u2_always_held_whatever_the_policy_allows(kind):
    generous = policy("policy:\n  creates: [suppliers, items]\n  updates: {suppliers: [name, phone]}\n"
                      "  documents_up_to: 1000000\n")
    assert not verdict(action(kind, changes=[("phone", "1")], how="matched"), generous).apply


def test_u2_links_other_than_exact_are_held_and_none_holds_every_link():
    assert not verdict(action("link", how="manual"), policy()).apply
    assert not verdict(action("link", how="merged"), policy()).apply
    assert not verdict(action("link", how="matched"), policy("policy: {links: none}\n")).apply


def test_u2_documents_go_up_to_the_amount():
    limited = policy("policy: {documents_up_to: 500}\n")
    assert verdict(action("create", "invoice", changes=[("total", 500)]), limited).apply
    over = verdict(action("create", "purchase_order", changes=[("total", 500.01)]), limited)
    assert not over.apply and "over policy.documents_up_to (500.00)" in over.reason


def test_u2_d6_d7_a_revision_or_cancellation_of_a_document_in_the_books_is_held_saying_so():
    """No policy key lets them go (policy.updates names no document section), so the reason must not
    point at one: it says what the action does to the books, and the plan's note says which."""
    generous = policy("policy:\n  updates: {suppliers: [name]}\n  documents_up_to: 1000000\n")
    revision = verdict(action("update", "invoice", changes=[("line 1", "5.0 x 4.2 = 21.0")],
                              note="edited in Precoro since it was sent: QuickBooks Bill 36 is updated"), generous)
    assert not revision.apply
    assert revision.reason == ("a revision of a document in the books (edited in Precoro since it was sent: "
                               "QuickBooks Bill 36 is updated)")
    cancel = verdict(action("deactivate", "purchase_order", note="cancelled in Precoro: QuickBooks PurchaseOrder 9 "
                                                                 "is voided"), generous)
    assert not cancel.apply and cancel.reason.startswith("a cancellation of a document in the books (cancelled")
    # A supplier's deactivation says only what it is, as before.
    assert verdict(action("deactivate", note="inactive in Precoro"), generous).reason == "a deactivation"


def test_u2_documents_up_to_per_currency_holds_a_document_in_any_other_currency():
    """A bare amount compares totals whatever their currency (1,000 dinars pass a limit of 1,000);
    per currency, each has its own limit and a currency not named is held."""
    per_currency = policy("policy:\n  documents_up_to: {USD: 1000, EUR: 900}\n")
    assert per_currency.documents_up_to == {"USD": 1000.0, "EUR": 900.0}

    def document(total, currency):
        return action("create", "invoice", changes=[("currency", currency), ("total", total)])

    assert verdict(document(1000, "USD"), per_currency).apply
    assert verdict(document(900, "EUR"), per_currency).apply
    over = verdict(document(950, "EUR"), per_currency)
    assert not over.apply and over.reason == "a document of 950.00 EUR, over policy.documents_up_to.EUR (900.00)"
    other = verdict(document(10, "KWD"), per_currency)
    assert not other.apply and other.reason == "a document in KWD (policy.documents_up_to names EUR, USD)"
    # A bare amount keeps its meaning: any currency, and the reason names the document's.
    bare = policy("policy: {documents_up_to: 500}\n")
    million = policy("policy: {documents_up_to: 1000000}\n")
    assert verdict(document(500, "KWD"), bare).apply
    assert verdict(document(1250000.5, "USD"), million).reason == "a document of 1,250,000.50 USD, over policy.documents_up_to (1,000,000.00)"


def test_u2_a_part_of_a_split_cost_invoice_goes_by_the_whole_invoice():
    """With split_cost: children each part is a Bill of its own; a 5,000 invoice in ten parts of
    500 must not pass a limit of 1,000 that the invoice itself would not."""
    limited = policy("policy: {documents_up_to: 1000}\n")
    part = action("create", "invoice", changes=[("currency", "USD"), ("total", 500), ("split invoice total", 5000)])
    held = verdict(part, limited)
    assert not held.apply
    assert held.reason == "a document part of a split invoice of 5,000.00 USD, over policy.documents_up_to (1,000.00)"
    small = action("create", "invoice", changes=[("total", 300), ("split invoice total", 900)])
    assert verdict(small, limited).apply


def test_u2_documents_up_to_per_currency_problems_name_file_line_and_column():
    with pytest.raises(rules.RulesError) as caught:
        rules.loads("version: 1\npolicy:\n  documents_up_to: {usd: 10, EUR: -1}\n")
    assert str(caught.value).splitlines() == [
        "rules.yaml:3:21: policy.documents_up_to: 'usd' is not a usable name; expected a currency code like USD or EUR",
        "rules.yaml:3:35: policy.documents_up_to.EUR: expected a number of at least 0; got -1",
    ]


def test_u2_a_write_that_failed_before_is_held():
    held = verdict(action("create", "class", approved=False, note="failed before: 6240"), policy())
    assert not held.apply and "failed before" in held.reason


def test_u2_dependents_of_a_held_action_are_held_and_answers_override_the_policy():
    actions = [action("create", id="supplier"), action("create", "class", id="class", depends_on=["supplier"])]
    out = verdicts(actions, policy())
    assert not out["supplier"].apply and out["class"].reason == "waits for held action supplier (supplier create 'supplier')"
    answered = verdicts(actions, policy(), answers={"supplier": True})
    assert answered["supplier"].apply and answered["class"].apply
    assert verdicts(actions, policy(), answers={"supplier": False})["supplier"].reason == "skipped by the operator"


def test_u2_the_safety_brake_holds_what_it_would_stop():
    updates = [action("update", changes=[("phone", str(n))], id=f"u{n}", precoro_id=str(n)) for n in range(3)]
    stopped = braked(updates, SafetyRule(max_change_share=0.5, min_linked=2), lambda section: 4)
    assert stopped == {"suppliers": (3, 4)}
    out = verdicts(updates, policy(), braked=stopped)
    assert not any(v.apply for v in out.values()) and "safety brake" in out["u0"].reason


def test_u2_policy_problems_name_file_line_and_column():
    def problems(text: str) -> list[str]:
        with pytest.raises(rules.RulesError) as caught:
            rules.loads("version: 1\npolicy:\n" + text)
        return str(caught.value).splitlines()

    assert problems("  creates: [supplier, invoices]\n  updates:\n    suppliers: [phnoe]\n") == [
        "rules.yaml:3:13: policy.creates[0]: 'supplier' is not an entity (did you mean 'suppliers'?); known: "
        "suppliers, items, chart_of_accounts, taxes, terms, classes, locations, payments",
        "rules.yaml:3:23: policy.creates[1]: 'invoices' are documents: they go by policy.documents_up_to",
        "rules.yaml:5:17: policy.updates.suppliers[0]: 'phnoe' is not a field of suppliers (did you mean 'phone'?)",
    ]
    assert problems("  updates:\n    invoices: [total]\n  documents_up_to: -1\n  links: fuzzy\n") == [
        "rules.yaml:4:5: policy.updates: unknown key 'invoices'; expected one of suppliers, items, "
        "chart_of_accounts, taxes, terms, classes, locations",
        "rules.yaml:5:20: policy.documents_up_to: expected a number of at least 0; got -1",
        "rules.yaml:6:10: policy.links: expected one of exact, none; got 'fuzzy'",
    ]


def test_u3_waiting_for_you_is_what_a_run_would_hold_not_what_a_person_skipped():
    """Both are unapproved in the plan; only the held rows tell a run's hold from a person's skip."""
    from engine.policy import fingerprint, judge
    from engine.review import SHOW_WORDS, WOULD_HOLD, ReviewFilter

    assert SHOW_WORDS["waiting"] == SHOW_WORDS["would-hold"] == WOULD_HOLD
    held, skipped, conflict = (action("create", id="h", approved=False), action("create", id="s", approved=False),
                               action("conflict", id="c"))
    actions = [held, skipped, conflict, action("link", id="l", how="matched")]
    judged = judge(actions, rules.loads("version: 1\n"),
                   [{"action_id": "h", "decision": None, "fingerprint": fingerprint(held)}])
    holds = {a.id: judged.verdicts[a.id].reason for a in actions if judged.holds(a)}
    waiting = ReviewFilter(show=SHOW_WORDS["waiting"])
    assert [a.id for a in actions if waiting.matches(a, None, holds)] == ["h", "c"]


def test_u3_approving_a_conflict_without_a_side_leaves_it_held():
    conflict = action("conflict")
    assert not verdicts([conflict], policy(), answers={"a1": True})["a1"].apply
    conflict.decision = "quickbooks"
    assert verdicts([conflict], policy(), answers={"a1": True})["a1"].apply


def test_u2_a_conflict_a_person_decided_goes_and_a_skipped_one_waits_for_no_one():
    decided = action("conflict")
    decided.decision = "precoro"
    assert verdict(decided, policy()).apply
    decided.decision = "skip"
    assert verdict(decided, policy()).reason == "skipped by the operator"
