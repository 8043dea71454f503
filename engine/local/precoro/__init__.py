"""Local Precoro: a real HTTP server speaking api.precoro.com's wire format, backed by sqlite.

The product's embedded default and the test bed of the Precoro client. Serve `PrecoroApp` with
`engine.local.http.serve_in_thread`, or in-process through `httpx.WSGITransport(app=...)`.

Documented facts it follows (reference/precoro-api-and-peers.md §1): `X-AUTH-TOKEN` and `email`
headers on every request (else 401); `page` and `per_page` (10, 20, 50, 100, 200) with the
`{"data": [...], "meta": {"pagination": {...}}}` envelope; bare objects from detail endpoints;
`modifiedSince=YYYY-MM-DDTHH:MM:SS`; `external_id[]=`; form-encoded writes with PHP-style keys;
booleans as lowercase "true"/"false" (Python's "True" is refused); field errors as
`{"errors": {"errors": {"<field>": "<message>"}}}`; PATCH sets `externalId`; documents addressed
by `idn`, master data by `id`; `currencies[]` replaces the whole list; 429 with `RateLimit-*` in
the JSON body; invoice status codes 0-11; supplier status 1 pending, 2 approved, 3 rejected.

Our conventions, where the public documentation leaves the real shape unknown:

- Paging: `per_page` defaults to 10; records are in id order; `total_pages` is at least 1;
  `has_next_page` is always present. A page past the end is an empty `data`, not an error.
- Lists return the same shape as the detail endpoint (no lighter list view), so an integrator
  never needs one GET per record. Every record carries `createDate` and `updateDate` (UTC,
  "2026-11-26T09:00:00+00:00"); `modifiedSince` is read as UTC and is inclusive.
- Every write bumps `updateDate`, PATCH of `externalId` included; PUT with no change too.
- Status codes: create 201 with the record, PUT/PATCH 200 with the record, DELETE 204.
  Write validation errors are 422, malformed list queries (page, per_page, filters) are 400,
  both with the field-error shape above. 401/404/405/415/5xx bodies are
  `{"code": <status>, "message": "..."}`. A JSON body on a write is 415. A field the write does
  not accept is refused ("This field is not expected."), so a misspelt key never passes silently.
  An empty value clears an optional text field (stored null).
- Suppliers: `name` required, at most 300 characters (the documented item limit); other text
  fields at most 255. `currencies` defaults to ["USD"] (the company currency) and `currency` is
  the first of them; writing `currency=EUR` puts EUR first (adding it if missing). Suppliers are created approved (`status` 2, `approvalDate` set); `status`
  is not writable. `uniqueCode` is unique when set. POST accepts `externalId`, so an integrator
  can find its own create again after a crash; PUT does not (PATCH sets it). A supplier still used
  by items or documents cannot be deleted (422 on `supplier`): disable it (`enable=false`).
  `paymentTerms[]=<id>` replaces the supplier's payment terms.
- Contacts: `{"id", "name", "email", "phone"}`, embedded as `contacts: {"data": [...]}` in both
  the supplier detail and the list, in creation (id) order. `POST /suppliers/{id}/contacts`
  (`email` required and valid; `name`, `phone` optional) returns the contact (201);
  `DELETE /suppliers/{id}/contacts/{contactId}` removes one. Either bumps the supplier's
  `updateDate`, so contact changes show up in `modifiedSince` reads.
- Items: `name` required and `sku`, both at most 300 characters; `price` is a decimal sent as
  text ("12.50") and returned as a JSON number; `freeOfCharge` and `enable` are booleans;
  `supplier[id]=5` sets the supplier (empty clears it) and it reads back as `{"id", "name"}`.
  `itemCustomFields[<custom field id>]=<option id>` sets item custom field values (only the
  custom fields given change; an empty option id clears one); they read back as
  `dataProductCustomFields: {"data": [{"itemCustomField": {"id", "name"},
  "option": {"id", "name", "code", "externalId"}}]}` ordered by custom field id.
- Custom fields: `{"id", "name", "enable", ...dates}`; their options
  `{"id", "name", "code", "enable", "parent": {"id", "name"} | null, "externalId", ...dates}` at
  `/itemcustomfields/{id}/options` and `/documentcustomfields/{id}/options` (POST name, code,
  externalId, parent[id], enable; PUT the same but externalId; PATCH externalId).
  Chart of accounts, classes and customers/projects are item custom fields; locations and
  departments are document custom fields.
- Taxes `{"id", "name", "percent", "externalId", ...dates}` (POST, PATCH); payment terms
  `{"id", "name", "creditPeriodDays", "enable", "externalId", ...dates}` (POST, PATCH).
- Invoices and purchase orders share one shape and the invoice status codes; `statusString` is
  the code's English label ("Approved"). Document ids start at 10001 and idns at 1, so code that
  confuses them fails. Lines: `{"id", "item": {"id", "name"} | null, "name", "quantity", "price",
  "sum", "dataItemCustomFields": {"data": [...as on items...]}}`; `sum` = quantity x price
  rounded to cents; the document `sum` adds the lines and `netSum` equals it (taxes are not
  modelled). Header custom fields read as `dataDocumentCustomFields: {"data": [{"documentCustomField":
  {"id", "name"}, "option": {...}, "value": "<option name>"}]}`. `location` is whatever the seed
  gave (no /locations endpoint). Documents are created through the state API only.
- References (supplier, item, option, parent) resolve when read: a rename shows everywhere;
  a deleted item reads as `item: null` on document lines.
- Throttling is off unless a `Throttle` is given. The identical-GET rule answers with
  the documented sample's `"Route based limiter by minute"` and `RateLimit-Limit` 1; the
  1 request/second limit answers `"Concurrency limiter"`; then `"Hourly limiter"`, `"Daily
  limiter"`. Refused requests do not count. Every response carries a `Date` header from the
  same clock as the retry time, so a client can compute the wait without trusting its own clock.
- Faults (off unless a `Faults` is given) strike after auth and throttling: 500 or 503 before
  the request runs, or 500 / a connection dropped mid-response after it ran (a write is stored).
- `POST /_local/reset` (no auth) forgets every record and restarts ids; users stay.
"""

from .app import PrecoroApp
from .faults import Faults
from .state import InvalidChange, PrecoroState, UnknownRecord
from .throttle import Throttle

__all__ = ["Faults", "InvalidChange", "PrecoroApp", "PrecoroState", "Throttle", "UnknownRecord"]
