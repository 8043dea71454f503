"""What qbsync takes the real Precoro API to be: every fact the client and the engine rest on, with its source.

One home for Precoro's wire contract. A value here is either documented (the source names the
Precoro page, or the public integration's file, in /work/shared/reference/precoro-api-and-peers.md
terms: PC-* are Precoro's own pages, HG-TAP / HG-TGT hotglue's tap and target, OC open-connector)
or an **assumption**: what the public record leaves open and the local Precoro implements. The
client, the mirror and the apply read these names instead of spelling the values themselves;
`engine.doctor` checks the checkable ones against a connected company (`qbsync doctor`), and
docs/real-services.md lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- pagination --------------------------------------------------------------------------------
# Page sizes the API accepts. Source: PC-POSTMAN (10, 20, 50, 100, 200); OC. (A third party says
# 100 at most: [CONFLICT], reference §1.2.)
PAGE_SIZES = (10, 20, 50, 100, 200)
# A list answer is {"data": [...], "meta": {"pagination": {...}}}; newer answers say
# `has_next_page`, older ones `current_page`/`total_pages`. Source: HG-TAP get_next_page_token.
PAGINATION_NEXT = "has_next_page"
PAGINATION_PAGES = ("current_page", "total_pages")
# The pagination's count of every record the filters match. Source: seen in public payloads
# (HG-TAP fixtures); that every list carries it: assumption (deletions are found by it).
PAGINATION_TOTAL = "total"

# -- summaries and details -----------------------------------------------------------------------
# Lists answer summaries; `/{id}` (documents: `/{idn}`) the full record. Source: Precoro's docs
# "Difference Between GET List and GET IDN"; HG-TAP re-reads `/invoices/{idn}` and, optionally,
# `/suppliers/{id}` per row. Which fields only the details carry: assumption (these are the ones
# qbsync needs; the local Precoro leaves exactly these out of its lists).
DETAIL_ONLY_FIELDS: dict[str, tuple[str, ...]] = {
    "/suppliers": ("contacts", "paymentTerms"),
    "/items": ("dataProductCustomFields",),
    "/invoices": ("items", "dataDocumentCustomFields", "attachments"),
    "/purchaseorders": ("items", "dataDocumentCustomFields", "attachments"),
}
# Documents are addressed by `idn`, master data by `id`. Source: PC-MASTER.
DOCUMENT_COLLECTIONS = frozenset({"/invoices", "/purchaseorders"})
# A record's summary carries `updateDate`, and any change of the record (its contacts, lines and
# custom fields included) moves it: a summary whose fields equal the mirrored record's is taken as
# unchanged and its details are not read again. Field: HG-TAP schemas. That details changes move
# it, and that a summary's fields equal the same fields of the details: assumption.
CHANGE_FIELD = "updateDate"

# -- incremental reads ----------------------------------------------------------------------------
# `modifiedSince=YYYY-MM-DDTHH:MM:SS`, inclusive. Source: PC-SCEN, HG-TAP, OC. Read as UTC: assumption.
MODIFIED_SINCE = "modifiedSince"
MODIFIED_SINCE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# No deletions are reported (no tombstones, no "deleted since" filter): assumption (none seen).

# -- external ids ------------------------------------------------------------------------------------
EXTERNAL_ID = "externalId"
# Set with PATCH `{path}/{id|idn}` and body `externalId=<value>`, never on POST. Source: PC-MASTER,
# PC-API2, HG-TGT patch_external_id. What a POST carrying it answers is not documented: the local
# Precoro refuses it with a 422 in the validation shape below (assumption).
EXTERNAL_ID_ON_CREATE = False
# Lookup by external id: `external_id[]=<value>` (repeatable). Source: PC-EXT, OC.
EXTERNAL_ID_FILTER = "external_id"

# -- documents -------------------------------------------------------------------------------------
# "Not yet exported" invoices: `sent_to_external=0`. Source: HG-TAP get_url_params. That it
# follows the externalId set by PATCH: assumption.
SENT_TO_EXTERNAL = "sent_to_external"
# Approval-date range: `approvalDate[left_date]=DD.MM.YYYY` (and `[right_date]`). Source: PC-SCEN.
APPROVED_FROM = "approvalDate[left_date]"
APPROVED_UNTIL = "approvalDate[right_date]"  # both days included
DATE_FILTER_FORMAT = "%d.%m.%Y"
# Document kind: `logicType`, filter `logicType[]`. Credit notes are invoices of logicType 1 or 5.
# Source: HG-TAP CreditNotesStream. Ordinary invoices: logicType 0 (assumption: the tap names no other).
LOGIC_TYPE = "logicType"
CREDIT_NOTE_LOGIC_TYPES = (1, 5)
# What qbsync reads as ordinary invoices (to Bills): logicType 0 only, so that credit notes (and
# any kind the public record does not name) never become Bills. Assumption, as above. A credit
# note's lines carry the credit as positive amounts, as a QuickBooks VendorCredit's do: assumption.
INVOICE_LOGIC_TYPES = (0,)
# A split-cost child invoice carries `parentData` ({"idn": its parent's}). Source: HG-TAP
# InvoiceDetailsStream schema. That the parent is itself listed, holding the whole amount: assumption.
SPLIT_PARENT = "parentData"
# A document's files: `attachments` in its details, each with an `id`; the file itself is a GET of
# the attachment by its id. Source: HG-TAP InvoiceDetailsStream schema (`attachments`, an object or
# a list); Precoro's knowledge base "How to get attachments from Precoro via API" (the IDs from the
# document by IDN, then "Download document attachment by ID"). Assumptions: a list (a {"data": [...]}
# wrapper is read too) whose entries name the file in `name` and its type in `contentType`, and the
# download path `/attachments/{id}`, answering the file's bytes with its Content-Type.
ATTACHMENTS = "attachments"
ATTACHMENT_NAME = "name"
ATTACHMENT_TYPE = "contentType"
ATTACHMENT_DOWNLOAD = "/attachments/{id}"

# -- payments (D9) -----------------------------------------------------------------------------------
# `POST /payments` with `invoice[id]`, `sumPaid`, `payDate`, `logicType`. Source: HG-TGT
# payload_example (logicType 0 there). Payments do not support PUT. Source: HG-TGT FallbackSink.
# Their externalId is set by `PATCH /payments/{idn}`. Source: PC-MASTER, HG-TGT allows_externalid.
PAYMENTS = "/payments"
PAYMENT_LOGIC_TYPE = 0
# `invoice[id]` takes the invoice's `id` (not its idn): assumption (the key's name; the example
# gives no value). payDate as YYYY-MM-DD: assumption.
PAYMENT_INVOICE = "invoice.id"
# Cancelling or deleting a payment: no endpoint is documented (no DELETE, no cancel, no PUT), so
# qbsync never tries; a payment voided or deleted in QuickBooks is held for a person. Source:
# absence in PC-API, PC-POSTMAN's index and HG-TGT; Precoro's own integration does cancel them
# (PC-QBO-INV, item 29), by means the public API does not show.
PAYMENT_CANCEL = None
# Records addressed by idn rather than id: documents, and payments. Source: PC-MASTER.
IDN_COLLECTIONS = DOCUMENT_COLLECTIONS | {PAYMENTS}

# -- writes and errors -----------------------------------------------------------------------------
# Form-encoded with PHP-style keys; lowercase booleans. Source: HG-TGT (http_headers, commit cf47e11).
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Field errors: {"errors": {"errors": {"<field>": "<message>"}}}. Source: HG-TGT validate_response.
# Other errors carry `message` or `error`. Source: OC extractPrecoroErrorMessage.
# Suppliers carry `currencies[]`, and a write of it replaces the whole list. Source: HG-TAP schema,
# HG-TGT merge_supplier_currencies.
CURRENCIES = "currencies"

# -- rate limits ------------------------------------------------------------------------------------
# 1 request a second, 1,500 an hour, 3,000 a day per API user; an identical GET is refused within a
# minute. Source: PC-429 (older pages say 300/minute: [CONFLICT], the strictest reading is taken).
REQUEST_INTERVAL = 1.0
PER_HOUR = 1500
PER_DAY = 3000
DUPLICATE_GET_WINDOW = 60.0
# A 429's retry time is in its JSON body: "RateLimit-Retry-After": "YYYY-MM-DD HH:MM:SS UTC", and
# "RateLimit-Type" "Daily limiter" ends the day. Source: PC-429, HG-TAP validate_response.
RETRY_AFTER_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
DAILY_LIMITER = "Daily limiter"


@dataclass(frozen=True)
class Assumption:
    """One line of the contract as docs/real-services.md and `qbsync doctor` name it."""

    key: str
    says: str
    evidence: str  # a source key of the reference, or "assumption"
    doctor: str  # what `qbsync doctor` checks, or "not checked: why"


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption("list_summaries", "list endpoints answer summaries, without " + ", ".join(
        sorted({f for fields in DETAIL_ONLY_FIELDS.values() for f in fields})),
        "Precoro docs 'Difference Between GET List and GET IDN'; HG-TAP (which fields: assumption)",
        "a page of /suppliers and of /invoices carries none of the detail-only fields"),
    Assumption("details_complete", "`/{id}` answers the full record: a supplier's contacts, a document's lines",
        "HG-TAP InvoiceDetailsStream, SuppliersStream", "/suppliers/{id} has contacts, /invoices/{idn} has items"),
    Assumption("summary_matches_details", "a summary's fields equal the same fields of the details (change "
        "detection compares them, updateDate included)", "assumption",
        "a supplier's list row against its /suppliers/{id}"),
    Assumption("pagination", "lists carry meta.pagination with has_next_page (or current_page/total_pages) and total",
        "HG-TAP get_next_page_token (total: assumption)", "the pagination of a /suppliers page"),
    Assumption("modified_since", "modifiedSince=YYYY-MM-DDTHH:MM:SS filters by updateDate (UTC, inclusive)",
        "PC-SCEN, HG-TAP (UTC: assumption)", "a modifiedSince a day ahead answers no records"),
    Assumption("change_moves_update_date", "any change of a record (contacts, lines included) moves its updateDate",
        "assumption", "not checked: it would take a change"),
    Assumption("no_deletions_reported", "Precoro reports no deletions; a count (pagination total) reveals them",
        "assumption", "not checked: nothing to observe"),
    Assumption("external_id_patch", "externalId is set by PATCH {path}/{id|idn}, never on POST",
        "PC-MASTER, PC-API2, HG-TGT patch_external_id", "PATCH of the externalId a supplier qbsync owns already has"),
    Assumption("external_id_filter", "external_id[]=<value> lists the records of that externalId", "PC-EXT, OC",
        "the supplier qbsync owns is found by its externalId"),
    Assumption("currencies", "suppliers carry currencies[] (a write replaces the list)",
        "HG-TAP schema, HG-TGT merge_supplier_currencies", "a supplier row carries a list `currencies`"),
    Assumption("document_filters", "invoices filter by sent_to_external, approvalDate[left_date] (DD.MM.YYYY), logicType[]",
        "HG-TAP get_url_params, PC-SCEN, OC", "/invoices accepts the three filters"),
    Assumption("credit_notes", "credit notes are invoices of logicType 1 or 5", "HG-TAP CreditNotesStream",
        "/invoices?logicType[]=1&logicType[]=5 answers only those logic types"),
    Assumption("split_children", "split-cost child invoices carry parentData", "HG-TAP InvoiceDetailsStream schema",
        "not checked: only seen when a company splits costs"),
    Assumption("document_header", "a document carries paymentTerm {id, name}, customName, requiredDate (the due date) "
        "and dataDocumentCustomFields with each option's id", "HG-TAP InvoiceDetailsStream schema (requiredDate as the "
        "due date, the option's id: assumption)", "not checked: a company may set none of them"),
    Assumption("line_taxes", "a document line lists its taxes as taxes {data: [{id, name, percent}]}",
        "assumption (the tap lists a document's taxes[], not a line's; PC-QBO-TAX says every line carries a tax)",
        "not checked: a company may use no taxes"),
    Assumption("cancelled_status", "a cancelled document has status 8 and stays listed (filter status[]=8)",
        "HG-TAP TransactionsStream status codes", "not checked: it would take a cancellation"),
    Assumption("invoice_logic_type", "ordinary invoices are logicType 0 (the only kind read as Bills)",
        "assumption (HG-TAP names only the credit notes' 1 and 5)", "not checked: a company may have none"),
    Assumption("attachments", "a document's details list `attachments` (id, name, contentType); GET "
        "/attachments/{id} answers the file", "HG-TAP InvoiceDetailsStream schema; Precoro KB 'How to get "
        "attachments from Precoro via API' (fields and path: assumption)", "not checked: it would take a document with files"),
    Assumption("rate_limits", "1 request/s, 1,500/hour, 3,000/day; no identical GET within a minute; retry time "
        "in the 429's body", "PC-429, HG-TAP, HG-TGT", "not checked: it would take reaching a limit"),
    Assumption("errors", "field errors as {errors: {errors: {field: message}}}; others as message or error",
        "HG-TGT validate_response, OC", "not checked: it would take a refused write"),
    Assumption("payments", "POST /payments records a payment (invoice[id] = the invoice's id, sumPaid, payDate as "
        "YYYY-MM-DD, logicType 0), which makes the invoice Partly Paid or Paid; PATCH /payments/{idn} sets its "
        "externalId; external_id[] lists them", "HG-TGT payload_example, PC-MASTER (invoice id and date format: "
        "assumption)", "not checked: it would take a payment"),
    Assumption("payments_not_cancellable", "the API cannot cancel, delete or edit a payment: a payment voided or "
        "deleted in QuickBooks is held for a person", "absence in PC-API, PC-POSTMAN, HG-TGT (Precoro's own "
        "integration cancels them: PC-QBO-INV)", "not checked: nothing to call"),
    Assumption("contacts_sub_resource", "a supplier's contacts are written as POST/DELETE /suppliers/{id}/contacts",
        "assumption (no public evidence)", "not checked: it would take a write"),
)
