"""Documents, Precoro -> QuickBooks (D1, D2, S6): approved invoices become Bills, purchase orders PurchaseOrders.

Pure like reconcile: given the approved documents and what is linked, it proposes one `create` per
document not sent yet, carrying the whole QuickBooks body. A document goes once: its link (Precoro
idn -> QuickBooks id) is stored with the create's outcome, and the create itself is sent with a
request id like every other QuickBooks write. Supplier-portal documents (`fromSupplier`) are
ordinary documents (S6).

D2: a line whose item is linked becomes an item line; every other line becomes a category line on
the line's chart-of-accounts account (or its item's). A document is never dropped for an unmapped
line; it is held back, with the reason, only when something QuickBooks requires is missing (the
supplier is not linked, a category line has no account).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

from .entities import EntityKind
from .plan import Action, FieldChange, action_id
from .references import References

# Statuses a document only reaches once approved (approved, partly paid, paid, pending receipt, closed).
APPROVED_STATUSES = frozenset({2, 4, 5, 9, 11})
DOC_NUMBER_MAX = 21  # QuickBooks DocNumber


def _label(kind: EntityKind) -> str:
    return kind.kind.replace("_", " ")


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _options(line: Mapping[str, Any]) -> list[str]:
    data = (line.get("dataItemCustomFields") or {}).get("data") or []
    return [str(entry["option"]["id"]) for entry in data if entry.get("option")]


def build_body(kind: EntityKind, doc: Mapping[str, Any], refs: References, item_links: Mapping[str, str],
               item_accounts: Mapping[str, str]) -> tuple[dict[str, Any] | None, list[FieldChange], str]:
    """The QuickBooks body for one document, the changes to show, and why it cannot go (or "")."""
    supplier = doc.get("supplier") or {}
    vendor = refs.supplier_to_quickbooks.get(str(supplier.get("id")))
    if vendor is None:
        return None, [], f"its supplier {supplier.get('name')!r} is not integrated with QuickBooks (sync suppliers first)"
    lines, changes = [], []
    for number, line in enumerate(doc.get("items") or [], start=1):
        quantity, price = _money(line.get("quantity") or 1), _money(line.get("price"))
        amount = float(quantity * price)
        item = line.get("item") or {}
        quickbooks_item = item_links.get(str(item.get("id"))) if item else None
        if quickbooks_item:
            detail = {"DetailType": "ItemBasedExpenseLineDetail",
                      "ItemBasedExpenseLineDetail": {"ItemRef": {"value": quickbooks_item}, "Qty": float(quantity),
                                                     "UnitPrice": float(price)}}
            shown = f"item {item.get('name')!r} (QuickBooks item {quickbooks_item}): {quantity} x {price}"
        else:
            account = refs.canonical("account_link", "precoro", _options(line)) or item_accounts.get(str(item.get("id")))
            if account is None:
                return None, [], f"line {number} ({line.get('name')!r}) has no linked item and no chart-of-accounts account"
            detail = {"DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}}}
            shown = f"category {refs.account_names.get(account, '')!r} (QuickBooks account {account}): {quantity} x {price}"
        lines.append({"Amount": amount, "Description": str(line.get("name") or "")[:4000], **detail})
        changes.append(FieldChange(f"line {number}", after=shown, precoro=line.get("name")))
    if not lines:
        return None, [], "it has no lines"
    body: dict[str, Any] = {"VendorRef": {"value": vendor}, "Line": lines,
                            "PrivateNote": f"Precoro {_label(kind)} {doc.get('idn')}"
                            + (" (sent by the supplier in the supplier portal)" if doc.get("fromSupplier") else "")}
    number = str(doc.get("invoiceNumber") or doc.get("idn") or "")
    body["DocNumber"] = number[:DOC_NUMBER_MAX]
    if doc.get("issueDate"):
        body["TxnDate"] = str(doc["issueDate"])[:10]
    if doc.get("currency"):
        body["CurrencyRef"] = {"value": doc["currency"]}
    head = [FieldChange("vendor", after=f"{supplier.get('name')} (QuickBooks vendor {vendor})", precoro=supplier.get("name")),
            FieldChange("doc number", after=body["DocNumber"], precoro=number,
                        note=f"cut from {len(number)} to {DOC_NUMBER_MAX} characters" if len(number) > DOC_NUMBER_MAX else None),
            FieldChange("total", after=sum(line["Amount"] for line in lines), precoro=doc.get("sum"))]
    return body, head + changes, ""


def plan_documents(kind: EntityKind, docs: Iterable[Mapping[str, Any]], linked: set[str], refs: References,
                   item_links: Mapping[str, str], item_accounts: Mapping[str, str]) -> list[Action]:
    """One create per approved document not sent yet; a `blocked` entry says why one cannot go."""
    actions = []
    for doc in docs:
        idn = str(doc.get("idn"))
        if idn in linked or doc.get("status") not in APPROVED_STATUSES:
            continue
        body, changes, problem = build_body(kind, doc, refs, item_links, item_accounts)
        name = f"{_label(kind)} {doc.get('invoiceNumber') or idn}"
        common = dict(entity=kind.kind, name=name, precoro_id=idn, versions={"precoro": str(doc.get("updateDate") or "")})
        if problem:
            actions.append(Action(id=action_id(kind.kind, "blocked", None, idn, None), kind="blocked", target=None,
                                  note=f"not sent: {problem}", **common))
            continue
        portal = " (from the supplier portal)" if doc.get("fromSupplier") else ""
        actions.append(Action(id=action_id(kind.kind, "create", "quickbooks", idn, None), kind="create",
                              target="quickbooks", changes=changes,
                              note=f"approved in Precoro{portal}: becomes a QuickBooks {kind.quickbooks}",
                              extra={"quickbooks_body": body}, **common))
    return actions
