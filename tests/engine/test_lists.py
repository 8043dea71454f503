"""Lists, QuickBooks -> Precoro options (L1-L3): planned by their rules like any entity."""

from __future__ import annotations

import rules
from engine.entities import ACCOUNTS, TERMS
from engine.lists import for_purchases
from engine.reconcile import LinkState, SyncState, reconcile

PATH = "/itemcustomfields/1/options"
DEFAULT = rules.loads("version: 1\n")


def account(id, name, *, active=True, kind="Expense", number=None):
    raw = {"Id": str(id), "Name": name, "FullyQualifiedName": name, "Active": active, "AccountType": kind}
    if number:
        raw["AcctNum"] = number
    return raw


def plan_list(spec, quickbooks, options, links, collection):
    """What the planner does for a list: QuickBooks records it covers, Precoro options, the links."""
    entity = DEFAULT.entity(spec.section)
    q = [spec.record(entity, "quickbooks", raw) for raw in quickbooks
         if spec.quickbooks_filter is None or spec.quickbooks_filter(raw)]
    p = [spec.record(entity, "precoro", raw) for raw in options]
    state = SyncState(links={pid: LinkState(pid, qid, {}, {"precoro": True, "quickbooks": True})
                             for pid, qid in links.items()})
    return reconcile(spec, entity, p, q, state, precoro_collection=collection).actions


def test_l1_new_accounts_become_options_carrying_their_quickbooks_id():
    [action] = plan_list(ACCOUNTS, [account(2, "Office Supplies", number="6100")], [], {}, PATH)
    assert (action.kind, action.target, action.quickbooks_id) == ("create", "precoro", "2")
    assert (action.write.collection, action.write.op) == (PATH, "create")
    assert action.write.values == {"name": "Office Supplies", "code": "6100", "externalId": "2"}


def test_l1_only_active_accounts_a_purchase_can_use_are_imported():
    quickbooks = [account(1, "Accounts Payable (A/P)", kind="Accounts Payable"), account(2, "Old", active=False),
                  account(3, "Sales", kind="Income")]
    assert [raw["Id"] for raw in quickbooks if for_purchases(raw)] == ["2"]
    assert plan_list(ACCOUNTS, quickbooks, [], {}, PATH) == []


def test_l1_a_rename_in_quickbooks_renames_the_option():
    [action] = plan_list(ACCOUNTS, [account(2, "Office supplies & postage")], [{"id": 7, "name": "Office Supplies"}],
                         {"7": "2"}, PATH)
    assert (action.kind, action.target, action.precoro_id) == ("update", "precoro", "7")
    assert (action.write.collection, action.write.record_id) == (PATH, "7")
    assert action.write.values == {"name": "Office supplies & postage"}


def test_l1_an_existing_option_of_the_same_name_is_linked_not_duplicated():
    [action] = plan_list(TERMS, [{"Id": "3", "Name": "Net 30", "DueDays": 30}], [{"id": 1, "name": "net 30"}], {}, "/paymentterms")
    assert (action.kind, action.precoro_id, action.quickbooks_id) == ("link", "1", "3")


def test_l1_a_tax_or_term_is_never_renamed_precoro_cannot():
    assert plan_list(TERMS, [{"Id": "3", "Name": "Net 30 days", "DueDays": 30}],
                     [{"id": 1, "name": "Net 30", "creditPeriodDays": 30}], {"1": "3"}, "/paymentterms") == []


def test_l1_without_the_custom_field_in_precoro_the_plan_says_what_to_do(servers, fresh_dir):
    servers.reset("3333")
    servers.quickbooks.insert("3333", "Account", {"Name": "Office Supplies", "AccountType": "Expense"})
    with servers.session(fresh_dir(), "3333") as session:
        [action] = session.plan(only=["chart_of_accounts"]).actions
    assert action.kind == "blocked" and "Chart of accounts" in action.note and "create it in Precoro" in action.note


def test_l2_linked_options_need_nothing():
    assert plan_list(ACCOUNTS, [account(2, "Office Supplies")], [{"id": 7, "name": "Office Supplies"}],
                     {"7": "2"}, PATH) == []


def test_l3_an_external_id_alone_never_links_an_option(tmp_path):
    # Option 7 was integrated with another company's account 2; this company's account 2 is another account.
    options = [{"id": 7, "name": "Travel", "externalId": "2"}]
    [action] = plan_list(ACCOUNTS, [account(2, "Office Supplies")], options, {}, PATH)
    assert action.kind == "create"


def test_l2_reconnecting_the_same_company_keeps_every_link_and_l3_another_starts_with_none(servers, fresh_dir):
    realm_a, realm_b = "1111", "2222"
    servers.reset(realm_a, realm_b)
    chart = servers.precoro.insert("itemcustomfields", {"name": "Chart of accounts"})["id"]
    servers.quickbooks.insert(realm_a, "Account", {"Name": "Office Supplies", "AccountType": "Expense"})
    servers.quickbooks.insert(realm_b, "Account", {"Name": "Freight", "AccountType": "Expense"})
    workdir = fresh_dir()
    state = workdir / "state.db"

    with servers.session(workdir, realm_a, state) as session:
        plan = session.plan(only=["chart_of_accounts"])
        assert [a.kind for a in plan.actions] == ["create"]
        assert session.apply(plan.id).ok  # a partial plan is applied by its id
    # Disconnected and reconnected to the same company: nothing to redo (L2).
    with servers.session(workdir, realm_a, state) as session:
        assert session.plan(only=["chart_of_accounts"]).actions == []
    # Another company: none of the first one's links count (L3).
    with servers.session(workdir, realm_b, state) as session:
        plan = session.plan(only=["chart_of_accounts"])
        assert [(a.kind, a.name) for a in plan.actions] == [("create", "Freight")]
        assert session.apply(plan.id).ok
        options = list(session.connected.precoro.list_all(f"/itemcustomfields/{chart}/options"))
        assert sorted(o["name"] for o in options) == ["Freight", "Office Supplies"]
    with servers.session(workdir, realm_a, state) as session:
        assert session.plan(only=["chart_of_accounts"]).actions == []  # the first company's links are intact


def test_d5_a_tax_is_imported_with_its_real_rate_read_from_its_tax_rates(servers, fresh_dir):
    """A QuickBooks TaxCode holds no percent: its purchase TaxRates do. A new tax code becomes a
    Precoro tax carrying their sum, not 0."""
    from engine.local.demo import DEMO_REALM

    workdir = fresh_dir()
    servers.first_sync(workdir, DEMO_REALM, workdir / "state.db")
    state, realm = servers.quickbooks, DEMO_REALM
    rates = [state.insert(realm, "TaxRate", {"Name": name, "RateValue": value})["Id"]
             for name, value in (("State 5%", 5), ("City 2.5%", 2.5))]
    state.insert(realm, "TaxCode", {"Name": "Combined 7.5%", "Taxable": True, "PurchaseTaxRateList": {"TaxRateDetail": [
        {"TaxRateRef": {"value": rate}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": order}
        for order, rate in enumerate(rates)]}})
    with servers.session(workdir, realm) as session:
        plan = session.plan()
        [create] = [a for a in plan.actions if a.entity == "tax"]
        assert (create.kind, create.target) == ("create", "precoro")
        session.apply(plan.id)
    taxes = {t["name"]: t["percent"] for t in servers.precoro.page("taxes", limit=50)[1]}
    assert taxes["Combined 7.5%"] == 7.5 and taxes["Zero-rated"] == 0 and taxes["VAT 20%"] == 20
