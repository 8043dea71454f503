"""Documents, Precoro -> QuickBooks (D1, D2, S6): approved invoices become Bills, purchase orders PurchaseOrders.

Pure like reconcile. Given the approved documents and what is linked, it proposes one `create` per
document not sent yet, carrying the whole QuickBooks request. The header comes from the rules'
document fields; the vendor and the lines follow the links (this plan's included: a vendor the
same plan creates is a placeholder the apply fills in). A document goes once: its link (Precoro
idn -> QuickBooks id) is stored with the create's outcome. Supplier-portal documents
(`fromSupplier`) are ordinary documents (S6). D8: credit notes are their own entity (VendorCredits),
never ordinary Bills; a split invoice goes once, as its parent or as its parts (the rules'
`split_cost`), never both. A document's files go after it (engine/attachments.py).

D2: a line whose item is linked becomes an item line; every other line becomes a category line on
the line's chart-of-accounts account (or its item's). A document is never dropped for an unmapped
line; it is held back, with the reason, only when something QuickBooks requires is missing (the
supplier is not linked, a category line has no account).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

from rules.model import EntityRules

from . import attachments
from .clients import precoro_contract as contract
from .plan import Action, FieldChange, action_id
from .reconcile import EntityPlan, SyncState, fit
from .records import get_path, to_canonical
from .references import References, placeholder_of
from .writes import build_write, waits_of

# Statuses a document only reaches once approved (approved, partly paid, paid, pending receipt, closed).
APPROVED_STATUSES = frozenset({2, 4, 5, 9, 11})


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _options(line: Mapping[str, Any]) -> list[str]:
    data = (line.get("dataItemCustomFields") or {}).get("data") or []
    return [str(entry["option"]["id"]) for entry in data if entry.get("option")]


def _shown(reference: Any) -> str:
    return "one this plan creates" if placeholder_of(reference) else str(reference)


def build_document(spec: Any, rules: EntityRules, doc: Mapping[str, Any], refs: References,
                   item_accounts: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldChange], str]:
    """The header values (canonical, by field), the changes to show, and why it cannot go (or "")."""
    supplier = doc.get("supplier") or {}
    vendor = refs.quickbooks_id("suppliers", supplier.get("id"))
    if vendor is None:
        return {}, [], f"its supplier {supplier.get('name')!r} is not integrated with QuickBooks (sync suppliers first)"
    lines, changes = [], []
    for number, line in enumerate(doc.get("items") or [], start=1):
        quantity, price = _money(line.get("quantity") or 1), _money(line.get("price"))
        amount = float(quantity * price)
        item = line.get("item") or {}
        quickbooks_item = refs.quickbooks_id("items", item.get("id")) if item else None
        if quickbooks_item:
            detail = {"DetailType": "ItemBasedExpenseLineDetail",
                      "ItemBasedExpenseLineDetail": {"ItemRef": {"value": quickbooks_item}, "Qty": float(quantity),
                                                     "UnitPrice": float(price)}}
            shown = f"item {item.get('name')!r} (QuickBooks item {_shown(quickbooks_item)}): {quantity} x {price}"
        else:
            account = refs.canonical("account_link", "precoro", _options(line)) or item_accounts.get(str(item.get("id")))
            if account is None:
                return {}, [], f"line {number} ({line.get('name')!r}) has no linked item and no chart-of-accounts account"
            detail = {"DetailType": "AccountBasedExpenseLineDetail",
                      "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}}}
            shown = f"category {refs.names.get('chart_of_accounts', {}).get(account, '')!r} (QuickBooks account {account}): {quantity} x {price}"
        lines.append({"Amount": amount, "Description": str(line.get("name") or "")[:4000], **detail})
        changes.append(FieldChange(f"line {number}", after=shown, precoro=line.get("name")))
    if not lines:
        return {}, [], "it has no lines"
    header = {rule.name: to_canonical(rule, "precoro", get_path(doc, rule.precoro), refs) for rule in rules.fields}
    if rules.has_field("number"):  # text in QuickBooks; no number of its own: its Precoro number
        header["number"] = str(header.get("number") or doc.get("idn"))
    portal = " (sent by the supplier in the supplier portal)" if doc.get("fromSupplier") else ""
    extra = {"VendorRef": {"value": vendor}, "Line": lines,
             "PrivateNote": f"Precoro {spec.label} {doc.get('idn')}{portal}"}
    shown_head = [FieldChange("vendor", after=f"{supplier.get('name')} (QuickBooks vendor {_shown(vendor)})",
                              precoro=supplier.get("name"))]
    for rule in rules.fields:
        value = header.get(rule.name)
        if value in (None, ""):
            continue
        after, note = fit(value, rule, "quickbooks")
        header[rule.name] = after
        shown_head.append(FieldChange(rule.name, after=after, precoro=value, note=note))
    shown_head.append(FieldChange("total", after=sum(line["Amount"] for line in lines), precoro=doc.get("sum")))
    return {"header": header, "extra": extra}, shown_head + changes, ""


def document_kind(doc: Mapping[str, Any], spec: Any) -> str:
    """What a Precoro document is to `spec`: "credit note" (an invoice of logicType 1 or 5 that this
    spec does not read as its own), "split part" (a split-cost child, naming its parent in
    parentData), or "document"."""
    logic_type = doc.get(contract.LOGIC_TYPE)
    if logic_type in contract.CREDIT_NOTE_LOGIC_TYPES and logic_type not in spec.precoro_query.get(contract.LOGIC_TYPE, ()):
        return "credit note"
    if (doc.get(contract.SPLIT_PARENT) or {}).get("idn") is not None:
        return "split part"
    return "document"


def _held(doc: Mapping[str, Any], kind: str, sent: Mapping[str, Any], parts: Mapping[str, list[str]],
          split_cost: str = "parent", sent_parts: Mapping[str, list[str]] | None = None) -> str:
    """Why a document is not sent, or "".

    D8: a split invoice goes once, as the rules say: its parent, which holds the whole amount
    (`split_cost: parent`), or its parts (`children`); the other is held, and so is a parent whose
    parts were sent, or a part whose parent was, by an earlier run under other rules. A credit note
    is no Bill (credit notes go as VendorCredits, their own entity).
    """
    idn = str(doc.get("idn"))
    if kind == "credit note":
        return (f"held: a credit note (logicType {doc.get(contract.LOGIC_TYPE)}), not sent as a Bill; "
                "credit notes go as VendorCredits (documents.credit_notes)")
    if kind == "split part":
        parent = str(doc[contract.SPLIT_PARENT]["idn"])
        if parent in sent:
            return f"held: its split-cost parent, invoice {parent}, was sent already (a parent or its parts, not both)"
        if split_cost == "parent":
            return (f"held: a split-cost part of invoice {parent}, which is sent whole instead "
                    "(documents.invoices.split_cost: parent)")
        return ""
    earlier = sorted({*(sent_parts or {}).get(idn, []), *(part for part in parts.get(idn, []) if part in sent)})
    if earlier:
        return f"held: its split-cost parts {', '.join(earlier)} were sent already (a parent or its parts, not both)"
    if split_cost == "children" and parts.get(idn):
        return (f"held: a split-cost invoice, sent as its parts {', '.join(parts[idn])} instead "
                "(documents.invoices.split_cost: children)")
    return ""


def plan_documents(spec: Any, rules: EntityRules, docs: Iterable[Mapping[str, Any]], state: SyncState,
                   refs: References, item_accounts: Mapping[str, str],
                   sent_parts: Mapping[str, list[str]] | None = None) -> EntityPlan:
    """One create per approved document not sent yet; a `blocked` entry says why one cannot go, or
    why it is held (the half of a split invoice the rules do not send). `sent_parts`: the split-cost
    parts sent before, by parent (Store.split_parts)."""
    out = EntityPlan()
    docs = list(docs)
    parts: dict[str, list[str]] = {}
    for doc in docs:
        if document_kind(doc, spec) == "split part":
            parts.setdefault(str(doc[contract.SPLIT_PARENT]["idn"]), []).append(str(doc.get("idn")))
    for doc in docs:
        idn = str(doc.get("idn"))
        if idn in state.links or doc.get("status") not in APPROVED_STATUSES:
            continue
        kind = document_kind(doc, spec)
        held = _held(doc, kind, state.links, parts, getattr(rules, "split_cost", "parent"), sent_parts)
        built, changes, problem = ({}, [], held) if held else build_document(spec, rules, doc, refs, item_accounts)
        label = spec.label if kind == "document" else kind
        name = f"{label} {doc.get('invoiceNumber') or idn}"
        common = dict(entity=spec.kind, name=name, precoro_id=idn, versions={"precoro": str(doc.get("updateDate") or "")})
        if problem:
            out.actions.append(Action(id=action_id(spec.kind, "blocked", None, idn, None), kind="blocked", target=None,
                                      note=problem if held else f"not sent: {problem}", **common))
            continue
        write, waits = build_write(rules, "quickbooks", "create", spec.quickbooks,
                                   {k: v for k, v in built["header"].items() if v not in (None, "")}, refs=refs)
        write.values.update(built["extra"])
        portal = " (from the supplier portal)" if doc.get("fromSupplier") else ""
        files = attachments.planned(rules, doc)
        follow_up: dict[str, Any] = {"attachments": files} if files else {}
        if kind == "split part":
            follow_up["split_parent"] = str(doc[contract.SPLIT_PARENT]["idn"])
        if files:
            changes.append(attachments.shown(files))
        out.actions.append(Action(
            id=action_id(spec.kind, "create", "quickbooks", idn, None), kind="create", target="quickbooks",
            changes=changes,
            note=f"approved in Precoro{portal}: becomes a QuickBooks {spec.quickbooks}",
            write=write, depends_on=sorted(set(waits + waits_of(built["extra"]))), follow_up=follow_up, **common))
    return out
