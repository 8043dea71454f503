"""Documents, Precoro -> QuickBooks (D1-D8, S6): approved invoices become Bills, purchase orders
PurchaseOrders, and stay right in the books.

Pure like reconcile. Given the Precoro documents, what is linked and (for the few sent documents
that changed) their QuickBooks documents, it proposes:

- `create` for an approved document not sent yet, carrying the whole QuickBooks request (D1). The
  header comes from the rules' document fields, the lines from the rules' line fields (D5); the
  vendor and every reference follow the links (this plan's included: a vendor the same plan creates
  is a placeholder the apply fills in).
- `update` for a sent document whose QuickBooks document, built again from it, is no longer the one
  that was sent: an edit in Precoro (D6). The link keeps the body last written (`sent`), so the plan
  shows the difference, header field by field and line by line.
- `deactivate` for a sent document cancelled in Precoro: its QuickBooks document is voided (its
  amounts to zero, our convention: QuickBooks' own void of a Bill is not in its API) or deleted, as
  the rules choose (D7).
- `blocked` for what cannot go, with the reason, and for what is held for a person: a paid document
  is never changed or cancelled by qbsync (D6, D7); the half of a split invoice the rules do not
  send (D8). Credit notes are their own entity (VendorCredits); a document's files follow it
  (engine/attachments.py).

D2/D5: a line whose item is linked becomes an item line; every other line a category line on the
line's chart-of-accounts account (or its item's, or the rules' default account). A line with none
of them is left out alone, with the reason; the document still goes, and a later edit adding the
account is a revision like any other.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable, Mapping

from rules.model import DocumentRules

from . import attachments, bulk
from .clients import precoro_contract as contract
from .plan import WHOLE_TOTAL, Action, FieldChange, FollowUp, LinkFacts, Write, action_id
from .reconcile import EntityPlan, LinkState, SyncState, fit
from .records import get_path, set_path, to_canonical
from .references import References, placeholder_of
from .writes import build_write, waits_of, wire_value

# Statuses a document only reaches once approved (approved, partly paid, paid, pending receipt, closed).
APPROVED_STATUSES = frozenset({2, 4, 5, 9, 11})
CANCELLED = 8
CENT = Decimal("0.01")
# The link baseline entry holding the QuickBooks body a document was last written with (D6).
SENT = "sent"
# QuickBooks transactions that pay a Bill or close a purchase order: a document they touch is held (D6, D7).
PAID_BY = frozenset({"BillPaymentCheck", "BillPaymentCreditCard", "BillPayment", "VendorCredit", "Bill"})

Books = Callable[[list[str]], Mapping[str, Mapping[str, Any]]]
# A QuickBooks vendor's currency as last read, or None when not known (one this plan creates).
VendorCurrency = Callable[[str], "str | None"]


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _options(line: Mapping[str, Any]) -> list[str]:
    data = (line.get("dataItemCustomFields") or {}).get("data") or []
    return [str(entry["option"]["id"]) for entry in data if entry.get("option")]


def _shown(reference: Any) -> str:
    return "one this plan creates" if placeholder_of(reference) else str(reference)


# -- the body last sent, kept with the link --------------------------------------------------------


def _as_kept(values: Mapping[str, Any]) -> str:
    return bulk.dumps(values, sort_keys=True)


def sent_baseline(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A link's baseline for a document written with `values` (wire path -> value, ids resolved)."""
    return {SENT: {"quickbooks": _as_kept(values)}}


def sent_values(link: LinkState) -> dict[str, Any] | None:
    """What a linked document was last written with; None for one sent before qbsync kept it."""
    text = (link.baseline.get(SENT) or {}).get("quickbooks")
    return bulk.loads(text) if isinstance(text, str) else None


def _normal(values: Mapping[str, Any]) -> Any:
    """Values as the link keeps them (JSON), so that a body built now compares with the one kept."""
    return bulk.loads(_as_kept(values))


def as_sent(book: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    """A QuickBooks document cut to the shape of the body qbsync sent it (the same header paths,
    each line to the keys a sent line has), so that the two compare: what differs was edited in
    QuickBooks since. What QuickBooks adds of its own (ids, line numbers, names of references,
    totals) is left out; what it does not say (a field it leaves out when empty) counts as sent."""
    sent_lines = sent.get("Line") or []
    lines = book.get("Line") if book.get("Line") is not None else sent_lines

    def like(number: int, line: Any) -> Any:
        """The sent line this one is shaped as: the one in its place, if of its kind; else (a line
        added or turned into another kind in QuickBooks) one of its kind; else none: kept as it is."""
        kind = line.get("DetailType") if isinstance(line, dict) else None
        if number < len(sent_lines) and sent_lines[number].get("DetailType") == kind:
            return sent_lines[number]
        return next((l for l in sent_lines if l.get("DetailType") == kind), None)

    shaped: dict[str, Any] = {path: _said(get_path(book, path), sent[path]) for path in sent if path != "Line"}
    if "Line" in sent:
        shaped["Line"] = [_shaped(line, like(number, line)) for number, line in enumerate(lines)
                          if not (isinstance(line, dict) and line.get("DetailType") == "SubTotalLineDetail")]
    return _normal(shaped)


def _shaped(value: Any, like: Any) -> Any:
    if like is None:
        return {k: v for k, v in value.items() if k not in ("Id", "LineNum")} if isinstance(value, dict) else value
    if isinstance(like, dict) and isinstance(value, dict):
        return {key: _shaped(value.get(key), sample) for key, sample in like.items()}
    return _said(value, like)


def _said(value: Any, sent: Any) -> Any:
    """QuickBooks' value, or the one sent when it says no more than that: nothing, or the same text
    but for its spacing and line ends (a memo's "\n" read back as "\r\n")."""
    if value is None or value == "" and sent in (None, ""):
        return sent
    if isinstance(value, str) and isinstance(sent, str) and value.split() == sent.split():
        return sent
    return value


def _voided(values: Mapping[str, Any]) -> bool:
    return all(float(line.get("Amount") or 0) == 0 for line in values.get("Line") or [])


# -- building a document's QuickBooks body -------------------------------------------------------


def _line_text(line: Mapping[str, Any], rules: DocumentRules, refs: References) -> str:
    """A QuickBooks line as a person reads it: what it is, how much, and what the rules' line
    fields put in it (its class, its tax)."""
    detail_type = line.get("DetailType") or ""
    detail = line.get(detail_type) or {}
    if detail_type == "ItemBasedExpenseLineDetail":
        item = get_path(detail, "ItemRef.value")
        what = f"item {refs.names.get('items', {}).get(str(item), '')!r} (QuickBooks item {_shown(item)}): " \
               f"{detail.get('Qty')} x {detail.get('UnitPrice')}"
    else:
        account = get_path(detail, "AccountRef.value")
        what = f"category {refs.names.get('chart_of_accounts', {}).get(str(account), '')!r} " \
               f"(QuickBooks account {_shown(account)})"
    extras = [f"{rule.name} {_shown(get_path(detail, rule.quickbooks))}" for rule in rules.lines
              if get_path(detail, rule.quickbooks) is not None]
    return f"{what} = {line.get('Amount')}" + (f" [{', '.join(extras)}]" if extras else "")


def _line(number: int, line: Mapping[str, Any], rules: DocumentRules, refs: References,
          item_accounts: Mapping[str, str], default_account: str | None) -> tuple[dict[str, Any] | None, str]:
    """One Precoro line as a QuickBooks line, or None and why it is left out."""
    quantity, price = _money(line.get("quantity") or 1), _money(line.get("price"))
    item = line.get("item") or {}
    quickbooks_item = refs.quickbooks_id("items", item.get("id")) if item else None
    if quickbooks_item:
        detail_type = "ItemBasedExpenseLineDetail"
        detail: dict[str, Any] = {"ItemRef": {"value": quickbooks_item}, "Qty": float(quantity), "UnitPrice": float(price)}
    else:
        account = (refs.canonical("account_link", "precoro", _options(line)) or item_accounts.get(str(item.get("id")))
                   or default_account)
        if account is None:
            return None, (f"line {number} ({line.get('name')!r}) is not sent: it has no linked item and no "
                          "chart-of-accounts account, and the rules name no default_account")
        detail_type = "AccountBasedExpenseLineDetail"
        detail = {"AccountRef": {"value": account}}
    for rule in rules.lines:  # D5: class, tax, ... from the rules, following the links
        value = wire_value(rule, "quickbooks", to_canonical(rule, "precoro", get_path(line, rule.precoro), refs), refs)
        if value is not None:
            set_path(detail, rule.quickbooks, value)
    # Money to the cent, as the line's total is booked: 1.5 x 3.333 is 5.00, not 4.9995, and 3 x 0.1
    # is 0.3, not 0.30000000000000004 (the product is a Decimal's; the float only carries it).
    amount = (quantity * price).quantize(CENT, ROUND_HALF_UP)
    body = {"Amount": float(amount), "Description": str(line.get("name") or "")[:4000],
            "DetailType": detail_type, detail_type: detail}
    return body, ""


def build_document(spec: Any, rules: DocumentRules, doc: Mapping[str, Any], refs: References,
                   item_accounts: Mapping[str, str], default_account: str | None = None,
                   vendor_currency: VendorCurrency = lambda vendor: None
                   ) -> tuple[dict[str, Any], list[FieldChange], list[str], str]:
    """The document's QuickBooks body (wire path -> value), the changes a create shows, the lines
    left out (why), and why it cannot go at all (or "")."""
    supplier = doc.get("supplier") or {}
    vendor = refs.quickbooks_id("suppliers", supplier.get("id"))
    if vendor is None:
        return {}, [], [], f"its supplier {supplier.get('name')!r} is not integrated with QuickBooks (sync suppliers first)"
    lines, left_out = [], []
    for number, line in enumerate(doc.get("items") or [], start=1):
        built, why = _line(number, line, rules, refs, item_accounts, default_account)
        if built is None:
            left_out.append(why)
        else:
            lines.append(built)
    if not lines:
        return {}, [], left_out, "it has no line that can be sent" + (f" ({'; '.join(left_out)})" if left_out else "")
    header = {rule.name: to_canonical(rule, "precoro", get_path(doc, rule.precoro), refs) for rule in rules.fields}
    if rules.has_field("number"):  # text in QuickBooks; no number of its own: its Precoro number
        header["number"] = str(header.get("number") or doc.get("idn"))
    changes = [FieldChange("vendor", after=f"{supplier.get('name')} (QuickBooks vendor {_shown(vendor)})",
                           precoro=supplier.get("name"))]
    for rule in rules.fields:
        value = header.get(rule.name)
        if value in (None, ""):
            header.pop(rule.name, None)
            continue
        header[rule.name], note = fit(value, rule, "quickbooks")
        changes.append(FieldChange(rule.name, after=header[rule.name], precoro=value, note=note))
    write, _ = build_write(rules, "quickbooks", "create", spec.quickbooks, header, refs=refs)
    values = dict(write.values)
    currency = values.get("CurrencyRef.value")
    booked = None if placeholder_of(vendor) else vendor_currency(str(vendor))
    if currency and booked and currency != booked:  # W9: QuickBooks refuses it (error 6000)
        return {}, [], left_out, (
            f"it is in {currency}, and its supplier's QuickBooks vendor {vendor} trades in {booked}: QuickBooks "
            "books a vendor's documents in the vendor's currency only, and qbsync links a supplier to one vendor. "
            f"Fix: correct its currency in Precoro, or enter it in QuickBooks by hand on a {currency} vendor")
    for path in list(values):  # a QuickBooks custom field (`CustomField[DefinitionId=1].StringValue`) is text
        if path.startswith("CustomField[") and path.endswith(".StringValue"):
            values[path[: -len("StringValue")] + "Type"] = "StringType"
    portal = " (sent by the supplier in the supplier portal)" if doc.get("fromSupplier") else ""
    marker = f"Precoro {spec.label} {doc.get('idn')}{portal}"
    memo = values.get("PrivateNote")
    values.update({"VendorRef.value": vendor, "Line": lines,
                   "PrivateNote": f"{memo}\n{marker}" if memo else marker})
    changes += [FieldChange(f"line {n}", after=_line_text(line, rules, refs), precoro=line.get("Description"))
                for n, line in enumerate(lines, start=1)]
    total = sum((_money(line["Amount"]) for line in lines), Decimal(0))  # in cents, not float sums
    changes.append(FieldChange("total", after=float(total), precoro=doc.get("sum")))
    return values, changes, left_out, ""


def _labels(rules: DocumentRules) -> dict[str, str]:
    """Wire path -> how a diff names it."""
    return {"VendorRef.value": "vendor", "PrivateNote": "memo", **{rule.quickbooks: rule.name for rule in rules.fields}}


def revision_changes(rules: DocumentRules, before: Mapping[str, Any], after: Mapping[str, Any],
                     refs: References) -> list[FieldChange]:
    """The field diff of a sent document against what it would be sent as now (D6): header fields
    by name, lines by number."""
    labels = _labels(rules)
    changes = []
    for path in sorted((set(before) | set(after)) - {"Line"}, key=lambda p: labels.get(p, p)):
        if path.startswith("CustomField[") and path.endswith("].Type"):
            continue  # said with its value
        if before.get(path) != after.get(path):
            changes.append(FieldChange(labels.get(path, path), before=before.get(path), after=after.get(path),
                                       precoro=after.get(path), quickbooks=before.get(path)))
    old, new = before.get("Line") or [], after.get("Line") or []
    for number in range(1, max(len(old), len(new)) + 1):
        was = old[number - 1] if number <= len(old) else None
        now = new[number - 1] if number <= len(new) else None
        if was != now:
            shown_before = _line_text(was, rules, refs) if was else None
            shown_after = _line_text(now, rules, refs) if now else None
            changes.append(FieldChange(f"line {number}", before=shown_before, after=shown_after,
                                       precoro=shown_after, quickbooks=shown_before))
    return changes


# -- what a document is ----------------------------------------------------------------------------


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


def payment_on(book: Mapping[str, Any]) -> str:
    """What in QuickBooks pays (a Bill) or closes (a purchase order) this document, or ""."""
    linked = [f"{txn.get('TxnType')} {txn.get('TxnId')}" for txn in book.get("LinkedTxn") or []
              if txn.get("TxnType") in PAID_BY]
    if linked:
        return ", ".join(linked)
    balance, total = book.get("Balance"), book.get("TotalAmt")
    if balance is not None and total is not None and _money(balance) < _money(total):
        return f"a payment (balance {balance} of {total})"
    if book.get("POStatus") == "Closed":
        return "it is closed in QuickBooks"
    return ""


# -- the plan ----------------------------------------------------------------------------------------


class _DocumentPlanner:
    def __init__(self, spec: Any, rules: DocumentRules, state: SyncState, refs: References,
                 item_accounts: Mapping[str, str], default_account: str | None, vendor_currency: VendorCurrency) -> None:
        self.spec, self.rules, self.state, self.refs = spec, rules, state, refs
        self.item_accounts, self.default_account, self.vendor_currency = item_accounts, default_account, vendor_currency
        self.left_out: dict[str, list[str]] = {}  # Precoro idn -> its lines that cannot go (D5)
        self.out = EntityPlan()

    def add(self, kind: str, doc: Mapping[str, Any], note: str, *, target: str | None = None,
            quickbooks_id: str | None = None, label: str | None = None, **more: Any) -> None:
        idn = str(doc.get("idn"))
        versions = {"precoro": str(doc.get("updateDate") or "")}
        if more.get("write") is not None and more["write"].version is not None:
            versions["quickbooks"] = more["write"].version
        self.out.actions.append(Action(
            id=action_id(self.spec.kind, kind, target, idn, quickbooks_id), entity=self.spec.kind, kind=kind,
            target=target, name=f"{label or self.spec.label} {doc.get('invoiceNumber') or idn}", precoro_id=idn,
            quickbooks_id=quickbooks_id, note=note, versions=versions, **more))

    def built(self, doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldChange], list[str], str]:
        return build_document(self.spec, self.rules, doc, self.refs, self.item_accounts, self.default_account,
                              self.vendor_currency)

    # -- unsent --

    def send(self, doc: Mapping[str, Any], kind: str, held: str, whole: float | None = None) -> None:
        label = self.spec.label if kind == "document" else kind
        if held:
            self.add("blocked", doc, held, label=label)
            return
        values, changes, left_out, problem = self.built(doc)
        if problem:
            self.add("blocked", doc, f"not sent: {problem}", label=label)
            return
        write = Write(side="quickbooks", op="create", collection=self.spec.quickbooks, values=values)
        portal = " (from the supplier portal)" if doc.get("fromSupplier") else ""
        note = f"approved in Precoro{portal}: becomes a QuickBooks {self.spec.quickbooks}"
        if left_out:
            note += "; " + "; ".join(left_out)
        if whole is not None:  # a split-cost part: a run's limit is for the invoice, not each part
            changes.append(FieldChange(WHOLE_TOTAL, after=whole, precoro=whole))
        files = attachments.planned(self.rules, doc)  # D8: its files follow it
        if files:
            changes.append(attachments.shown(files))
        split_parent = str(doc[contract.SPLIT_PARENT]["idn"]) if kind == "split part" else None
        follow_up = FollowUp(files, split_parent) if files or split_parent else None
        self.add("create", doc, note, target="quickbooks", changes=changes, write=write,
                 depends_on=sorted(set(waits_of(values))), follow_up=follow_up, label=label)

    # -- sent: revisions and cancellations (D6, D7) --

    def wanted(self, doc: Mapping[str, Any], link: LinkState) -> tuple[str, dict[str, Any] | None] | None:
        """What a sent document asks of its QuickBooks document: ("revise", the body to send now),
        ("cancel", None), or None (nothing; a line that cannot go is said again, D5)."""
        sent = sent_values(link)
        if sent is None:  # sent before qbsync kept what it sent: nothing to compare with
            return None
        if doc.get("status") == CANCELLED:
            if self.rules.when_cancelled == "ignore" or _voided(sent):
                return None
            return "cancel", None
        if not self.rules.revisions or doc.get("status") not in APPROVED_STATUSES:
            return None
        values, _, left_out, problem = self.built(doc)
        if problem:
            self.add("blocked", doc, f"edited in Precoro, but its QuickBooks {self.spec.quickbooks} "
                     f"{link.quickbooks_id} is not updated: {problem}", quickbooks_id=link.quickbooks_id)
            return None
        if _normal(values) == sent:
            if left_out:  # still not in the books: said until the line can go
                self.add("blocked", doc, f"sent as QuickBooks {self.spec.quickbooks} {link.quickbooks_id}, but "
                         + "; ".join(left_out), quickbooks_id=link.quickbooks_id)
            return None
        self.left_out[str(doc.get("idn"))] = left_out
        return "revise", values

    def relink(self, doc: Mapping[str, Any], book: Mapping[str, Any] | None) -> None:
        """D3: a document whose externalId names a QuickBooks document of this company, of its number
        and vendor, was sent by another state file (a lost one, a second install): it is linked
        again, as it would be sent now, so that its edits, cancellation and payments are followed."""
        if book is None:
            return  # another company's id, or another integration's: left alone
        values, _, _, problem = self.built(doc)
        if problem or any(_normal(values).get(path) != get_path(book, path) for path in ("DocNumber", "VendorRef.value")):
            return
        qid = str(book["Id"])
        self.add("link", doc, f"in QuickBooks already as {self.spec.quickbooks} {qid} (its Precoro externalId, same "
                              "number and vendor): linked again, not sent twice (D3)", quickbooks_id=qid,
                 link=LinkFacts(how="origin", baseline=sent_baseline(values)))

    def follow(self, doc: Mapping[str, Any], link: LinkState, want: str, values: dict[str, Any] | None,
               book: Mapping[str, Any] | None) -> None:
        qid, sent = link.quickbooks_id, sent_values(link) or {}
        what = f"QuickBooks {self.spec.quickbooks} {qid}"
        if book is None:
            if want == "cancel":
                self.add("unlink", doc, f"cancelled in Precoro; {what} is not in QuickBooks any more", quickbooks_id=qid)
            else:
                self.add("blocked", doc, f"edited in Precoro, but {what} is not in QuickBooks any more (deleted "
                                         "there?); qbsync does not send it again", quickbooks_id=qid)
            return
        paid = payment_on(book)
        now = as_sent(book, sent)  # what QuickBooks holds now, in the shape qbsync sends
        if want == "revise":
            assert values is not None
            # Edited in QuickBooks too (an accountant's fix): the revision would undo that, so the
            # diff is against what QuickBooks holds now, and only a person lets it go.
            edited = [c.field for c in revision_changes(self.rules, sent, now, self.refs)]
            changes = revision_changes(self.rules, now, values, self.refs)
            if paid:
                self.add("blocked", doc, f"held for review: edited in Precoro, but {what} has {paid}; change it in "
                                         "QuickBooks by hand, or remove the payment there and plan again",
                         quickbooks_id=qid, changes=changes)
                return
            write = Write(side="quickbooks", op="update", collection=self.spec.quickbooks, record_id=qid,
                          version=str(book.get("SyncToken")), values=values)
            said = f"edited in Precoro since it was sent: {what} is updated"
            unapproved_why = None
            if edited:
                unapproved_why = f"{what} was edited in QuickBooks since it was sent ({', '.join(edited)})"
                said = (f"edited in Precoro since it was sent, and {unapproved_why}: approving this sends Precoro's "
                        "version over those edits; else bring Precoro or QuickBooks in line by hand")
            note = "; ".join([said, *self.left_out.get(str(doc.get("idn")), [])])
            self.add("update", doc, note, target="quickbooks", quickbooks_id=qid, changes=changes, write=write,
                     depends_on=sorted(set(waits_of(values))), approved=unapproved_why is None,
                     unapproved_why=unapproved_why)
            return
        how = self.rules.when_cancelled
        if paid:
            self.add("blocked", doc, f"held for review: cancelled in Precoro, but {what} has {paid}; {how} it in "
                                     "QuickBooks by hand once the payment is dealt with", quickbooks_id=qid)
            return
        version = str(book.get("SyncToken"))
        if how == "delete":
            write = Write(side="quickbooks", op="delete", collection=self.spec.quickbooks, record_id=qid, version=version)
            changes = [FieldChange("status", before="open", after="deleted", precoro="cancelled", quickbooks="open")]
        else:  # void: QuickBooks' own void keeps the document with its amounts at zero
            # From the document as QuickBooks holds it now: an accountant's edits there stay, only
            # the amounts go to zero.
            lines = [_zeroed(line) for line in now.get("Line") or []]
            note = f"Voided: cancelled in Precoro. {now.get('PrivateNote') or ''}".strip()[:4000]
            write = Write(side="quickbooks", op="update", collection=self.spec.quickbooks, record_id=qid,
                          version=version, values={**now, "Line": lines, "PrivateNote": note})
            changes = [FieldChange("status", before="open", after="voided (amounts 0)", precoro="cancelled", quickbooks="open"),
                       FieldChange("total", before=sum(float(l.get("Amount") or 0) for l in now.get("Line") or []), after=0)]
        self.add("deactivate", doc, f"cancelled in Precoro: {what} is {'deleted' if how == 'delete' else 'voided'}",
                 target="quickbooks", quickbooks_id=qid, changes=changes, write=write)


def _zeroed(line: Mapping[str, Any]) -> dict[str, Any]:
    line = copy.deepcopy(dict(line))
    line["Amount"] = 0.0
    detail = line.get(line.get("DetailType") or "") or {}
    if "Qty" in detail:
        detail["Qty"], detail["UnitPrice"] = 0.0, 0.0
    return line


def plan_documents(spec: Any, rules: DocumentRules, docs: Iterable[Mapping[str, Any]], state: SyncState,
                   refs: References, item_accounts: Mapping[str, str], *, default_account: str | None = None,
                   books: Books = lambda ids: {}, sent_parts: Mapping[str, list[str]] | None = None,
                   vendor_currency: VendorCurrency = lambda vendor: None) -> EntityPlan:
    """One create per approved document not sent yet; per sent document edited or cancelled in
    Precoro, its update or cancellation in QuickBooks. `books(ids)` reads those QuickBooks
    documents (their SyncToken, and whether a payment holds them), for the few that need it.
    `sent_parts`: the split-cost parts sent before, by parent (Store.split_parts). `vendor_currency`:
    a vendor's currency, which its documents must be in (W9)."""
    planner = _DocumentPlanner(spec, rules, state, refs, item_accounts, default_account, vendor_currency)
    docs = list(docs)
    parts: dict[str, list[str]] = {}
    sums: dict[str, float] = {}  # parent idn -> the whole invoice's total: its own, else its parts'
    for doc in docs:
        if document_kind(doc, spec) == "split part":
            parent = str(doc[contract.SPLIT_PARENT]["idn"])
            parts.setdefault(parent, []).append(str(doc.get("idn")))
            sums[parent] = sums.get(parent, 0.0) + float(doc.get("sum") or 0)
    sums.update({str(doc.get("idn")): float(doc.get("sum") or 0) for doc in docs
                 if str(doc.get("idn")) in parts and doc.get("sum") is not None})
    following, relinking = [], []
    for doc in docs:
        idn = str(doc.get("idn"))
        link = state.links.get(idn)
        if link is not None:
            wanted = planner.wanted(doc, link)
            if wanted is not None:
                following.append((doc, link, *wanted))
            continue
        if doc.get("status") not in APPROVED_STATUSES:
            continue
        origin = str(doc.get(contract.EXTERNAL_ID) or "")
        if origin:  # sent by another install (or a lost state file's) or integration: in the books (D3)
            if origin.isdigit():
                relinking.append((doc, origin))  # linked again if it is this company's document
            continue
        kind = document_kind(doc, spec)
        whole = sums.get(str(doc[contract.SPLIT_PARENT]["idn"])) if kind == "split part" else None
        planner.send(doc, kind, _held(doc, kind, state.links, parts, rules.split_cost, sent_parts), whole)
    wanted = {link.quickbooks_id for _, link, _, _ in following} | {origin for _, origin in relinking}
    found = books(sorted(wanted)) if wanted else {}
    for doc, link, want, values in following:
        planner.follow(doc, link, want, values, found.get(link.quickbooks_id))
    for doc, origin in relinking:
        planner.relink(doc, found.get(origin))
    return planner.out
