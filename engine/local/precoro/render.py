"""Stored documents -> the JSON shapes the API returns, resolving references a page at a time.

Every reference is resolved when read (a renamed supplier shows its new name on its items and
documents); lookups are batched per page so a page of 200 costs a handful of queries.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping, Protocol

from . import payments as payments_module
from .kinds import DOCUMENT_STATUSES, Kind

Row = tuple[int, dict[str, Any]]

# One shared encoder: `json.dumps` with non-default options builds a new one per call.
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Lookup(Protocol):
    def records(self, kind: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]: ...

    def children(self, kind: str, column: str, owner_ids: list[int]) -> dict[int, list[Row]]: ...


def render(kind: Kind, rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    renderer = _RENDERERS.get(kind.name, _plain)
    return renderer(rows, lookup)


def _plain(rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    return [{"id": id_, **doc} for id_, doc in rows]


def _ref(records: Mapping[int, Mapping[str, Any]], id_: int | None) -> dict[str, Any] | None:
    """`{"id", "name"}` of a referenced record, or null when there is none (or it was deleted)."""
    if id_ is None or id_ not in records:
        return None
    return {"id": id_, "name": records[id_]["name"]}


def _contact(id_: int, doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": id_, "name": doc["name"], "email": doc["email"], "phone": doc["phone"]}


def _suppliers(rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    contacts = lookup.children("contacts", "supplier_id", [id_ for id_, _ in rows])
    terms = lookup.records("paymentterms", {term for _, doc in rows for term in doc["paymentTerms"]})
    out = []
    for id_, doc in rows:
        record = {"id": id_, **doc}
        record["currency"] = doc["currencies"][0] if doc["currencies"] else None
        record["contacts"] = {"data": [_contact(cid, contact) for cid, contact in contacts.get(id_, [])]}
        record["paymentTerms"] = {"data": [{"id": t, **terms[t]} for t in doc["paymentTerms"] if t in terms]}
        out.append(record)
    return out


class _Choices:
    """Renders `{custom field id: option id}` maps as the API's custom-field value lists."""

    def __init__(self, lookup: Lookup, fields_kind: str, options_kind: str, maps: list[Mapping[str, int]]) -> None:
        self._label = "itemCustomField" if fields_kind == "itemcustomfields" else "documentCustomField"
        self._fields = lookup.records(fields_kind, {int(cf) for chosen in maps for cf in chosen})
        self._options = lookup.records(options_kind, {option for chosen in maps for option in chosen.values()})

    def render(self, chosen: Mapping[str, int]) -> list[dict[str, Any]]:
        values = []
        for cf, option_id in sorted(chosen.items(), key=lambda pair: int(pair[0])):
            option = self._options.get(option_id)
            if option is None or int(cf) not in self._fields:
                continue
            value = {
                self._label: {"id": int(cf), "name": self._fields[int(cf)]["name"]},
                "option": {
                    "id": option_id,
                    "name": option["name"],
                    "code": option["code"],
                    "externalId": option["externalId"],
                },
            }
            if self._label == "documentCustomField":
                # The documented document shape carries the chosen value as text.
                value["value"] = option["name"]
            values.append(value)
        return values


def _items(rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    suppliers = lookup.records("suppliers", {doc["supplier"] for _, doc in rows if doc["supplier"]})
    choices = _Choices(lookup, "itemcustomfields", "itemcustomfield_options", [doc["itemCustomFields"] for _, doc in rows])
    out = []
    for id_, doc in rows:
        record = {"id": id_, **doc}
        record["supplier"] = _ref(suppliers, doc["supplier"])
        del record["itemCustomFields"]
        record["dataProductCustomFields"] = {"data": choices.render(doc["itemCustomFields"])}
        out.append(record)
    return out


def _options(rows: list[Row], lookup: Lookup, options_kind: str) -> list[dict[str, Any]]:
    parents = lookup.records(options_kind, {doc["parent"] for _, doc in rows if doc["parent"]})
    out = []
    for id_, doc in rows:
        record = {"id": id_, **doc}
        del record["customField"]
        record["parent"] = _ref(parents, doc["parent"])
        out.append(record)
    return out


def _documents(rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    lines = [line for _, doc in rows for line in doc["items"]]
    suppliers = lookup.records("suppliers", {doc["supplier"] for _, doc in rows if doc["supplier"]})
    items = lookup.records("items", {line["item"] for line in lines if line["item"]})
    terms = lookup.records("paymentterms", {doc["paymentTerm"] for _, doc in rows if doc.get("paymentTerm")})
    taxes = lookup.records("taxes", {tax for line in lines for tax in line.get("taxes") or []})
    line_choices = _Choices(lookup, "itemcustomfields", "itemcustomfield_options", [line["itemCustomFields"] for line in lines])
    header_choices = _Choices(
        lookup, "documentcustomfields", "documentcustomfield_options", [doc["documentCustomFields"] for _, doc in rows]
    )
    out = []
    for id_, doc in rows:
        record: dict[str, Any] = {"id": id_, "idn": doc["idn"], "status": doc["status"]}
        record["statusString"] = DOCUMENT_STATUSES.get(doc["status"], "Unknown")
        record.update((name, value) for name, value in doc.items() if name not in record)
        record["supplier"] = _ref(suppliers, doc["supplier"])
        record["paymentTerm"] = _ref(terms, doc.get("paymentTerm"))
        record["items"] = [
            {
                "id": line["id"],
                "item": _ref(items, line["item"]),
                "name": line["name"],
                "quantity": line["quantity"],
                "price": line["price"],
                "sum": line["sum"],
                "dataItemCustomFields": {"data": line_choices.render(line["itemCustomFields"])},
                # Assumption (precoro_contract): a line lists its taxes like a document does.
                "taxes": {"data": [{"id": tax, "name": taxes[tax]["name"], "percent": taxes[tax]["percent"]}
                                   for tax in line.get("taxes") or [] if tax in taxes]},
            }
            for line in doc["items"]
        ]
        del record["documentCustomFields"]
        parent = doc.get("parentData")
        record["parentData"] = {"idn": parent} if parent else None
        record["dataDocumentCustomFields"] = {"data": header_choices.render(doc["documentCustomFields"])}
        # Listed without their content: GET /attachments/{id} answers it.
        record["attachments"] = [{key: file[key] for key in ("id", "name", "contentType", "size")}
                                 for file in doc.get("attachments") or []]
        out.append(record)
    return out


def _invoices(rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    """Documents, with what has been paid: `sumPaid` and `payments[]` (payments.py)."""
    paid = lookup.children("payments", "invoice_id", [id_ for id_, _ in rows])
    out = _documents(rows, lookup)
    for record in out:
        payments = paid.get(record["id"], [])
        record["sumPaid"] = payments_module.paid_sum(doc for _, doc in payments)
        record["payments"] = [payments_module.shown(pid, doc) for pid, doc in payments]
    return out


def _payments(rows: list[Row], lookup: Lookup) -> list[dict[str, Any]]:
    invoices = lookup.records("invoices", {doc["invoice"] for _, doc in rows if doc["invoice"]})
    out = []
    for id_, doc in rows:
        invoice = invoices.get(doc["invoice"])
        out.append({"id": id_, **doc, "invoice": {"id": doc["invoice"], "idn": invoice["idn"]} if invoice else None})
    return out


_RENDERERS: dict[str, Callable[[list[Row], Lookup], list[dict[str, Any]]]] = {
    "suppliers": _suppliers,
    "items": _items,
    "itemcustomfield_options": lambda rows, lookup: _options(rows, lookup, "itemcustomfield_options"),
    "documentcustomfield_options": lambda rows, lookup: _options(rows, lookup, "documentcustomfield_options"),
    "contacts": lambda rows, lookup: [_contact(id_, doc) for id_, doc in rows],
    "invoices": _invoices,
    "purchaseorders": _documents,
    "payments": _payments,
}
