"""`qbsync doctor`: what qbsync assumes of the connected services, checked against them.

Each check looks at one assumption of `clients.precoro_contract` (and a few of QuickBooks') with
the fewest, read-only requests it can: one page of a list, one record's details, a filter. The
one write is a PATCH of the externalId a supplier qbsync created already has: the same value, so
nothing changes. A check answers "holds", "differs" (the service behaves otherwise: what qbsync
does may be wrong or wasteful there) or "could not check" (nothing to look at, or the request
failed), with what it saw. No two of its GETs are identical (Precoro refuses that within a minute).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from . import bulk
from .clients import precoro_contract as contract
from .clients.errors import ApiError, ValidationFailed
from .clients.precoro import format_modified_since, record_key
from .store import Store

HOLDS = "holds"
DIFFERS = "differs"
UNCHECKED = "could not check"


@dataclass(frozen=True)
class Check:
    service: str  # "precoro" or "quickbooks"
    key: str  # the assumption's key in the contract (docs/real-services.md names it too)
    says: str  # the assumption
    result: str  # HOLDS, DIFFERS or UNCHECKED
    saw: str  # what the service answered

    def to_json(self) -> dict[str, str]:
        return asdict(self)


class _Unchecked(Exception):
    """Nothing to check against (no supplier, no invoice...)."""


_SAYS = {a.key: a.says for a in contract.ASSUMPTIONS}


class Doctor:
    """The checks of one connected pair of companies; `run()` answers them all."""

    def __init__(self, precoro: Any, quickbooks: Any, store: Store, realm: str | None,
                 missing: Mapping[str, str] | None = None, quickbooks_said: Mapping[str, Any] | None = None) -> None:
        self.precoro = precoro  # None, as the other, while that side is not connected: `missing` says why
        self.quickbooks = quickbooks
        # What the connection knows of its tokens (Connected.describe's entry), kept current by every refresh.
        self.quickbooks_said = quickbooks_said if quickbooks_said is not None else {}
        self.store = store
        self.realm = realm
        self.missing = dict(missing or {})
        self._pages: dict[str, dict] = {}
        self._details: dict[str, dict] = {}

    def run(self) -> list[Check]:
        checks = [
            ("precoro", "list_summaries", self._list_summaries),
            ("precoro", "details_complete", self._details_complete),
            ("precoro", "summary_matches_details", self._summary_matches_details),
            ("precoro", "pagination", self._pagination),
            ("precoro", "modified_since", self._modified_since),
            ("precoro", "currencies", self._currencies),
            ("precoro", "external_id_filter", self._external_id_filter),
            ("precoro", "external_id_patch", self._external_id_patch),
            ("precoro", "document_filters", self._document_filters),
            ("precoro", "credit_notes", self._credit_notes),
            ("quickbooks", "cdc", self._cdc),
            ("quickbooks", "minorversion", self._minorversion),
            ("quickbooks", "grant_end", self._grant_end),
        ]
        return [self._check(service, key, probe) for service, key, probe in checks]

    def _check(self, service: str, key: str, probe: Callable[[], tuple[bool, str]]) -> Check:
        says = _SAYS.get(key) or _QUICKBOOKS_SAYS[key]
        if service in self.missing:
            return Check(service, key, says, UNCHECKED, self.missing[service])
        try:
            holds, saw = probe()
        except _Unchecked as nothing:
            return Check(service, key, says, UNCHECKED, str(nothing))
        except ApiError as error:
            return Check(service, key, says, UNCHECKED, f"the request failed: {error}")
        return Check(service, key, says, HOLDS if holds else DIFFERS, saw)

    # -- Precoro -------------------------------------------------------------------------------

    def _page(self, path: str) -> dict:
        """The first page of a list (10 records), read once for every check that looks at it."""
        if path not in self._pages:
            self._pages[path] = self.precoro.first_page(path)
        return self._pages[path]

    def _rows(self, path: str) -> list[dict]:
        rows = self._page(path).get("data") or []
        if not rows:
            raise _Unchecked(f"{path} is empty")
        return rows

    def _first_details(self, path: str) -> tuple[dict, dict]:
        row = self._rows(path)[0]
        if path not in self._details:
            self._details[path] = self.precoro.details(path, row)
        return row, self._details[path]

    def _list_summaries(self) -> tuple[bool, str]:
        seen = []
        for path in ("/suppliers", "/invoices"):
            try:
                rows = self._rows(path)
            except _Unchecked:
                continue
            extra = sorted({f for row in rows for f in contract.DETAIL_ONLY_FIELDS[path] if f in row})
            seen.append(f"{path} rows carry {', '.join(extra)}" if extra else f"{path} rows are summaries")
            if extra:
                return False, "; ".join(seen) + ": qbsync reads each changed record's details although the list has them"
        if not seen:
            raise _Unchecked("no suppliers and no invoices to look at")
        return True, "; ".join(seen)

    def _details_complete(self) -> tuple[bool, str]:
        wanted = {"/suppliers": "contacts", "/invoices": "items"}
        seen, missing = [], []
        for path, field in wanted.items():
            try:
                row, details = self._first_details(path)
            except _Unchecked:
                continue
            has = field in details
            (seen if has else missing).append(f"{path}/{record_key(path, row)} {'has' if has else 'lacks'} {field}")
        if not seen and not missing:
            raise _Unchecked("no suppliers and no invoices to look at")
        return not missing, "; ".join(missing + seen)

    def _summary_matches_details(self) -> tuple[bool, str]:
        row, details = self._first_details("/suppliers")
        differ = sorted(name for name, value in row.items() if details.get(name) != value)
        if differ:
            return False, (f"supplier {row.get('id')}: {', '.join(differ)} differ between its list row and its details: "
                           "qbsync takes such a record as changed at every plan and reads its details again")
        return True, f"supplier {row.get('id')}: its {len(row)} list fields equal its details'"

    def _pagination(self) -> tuple[bool, str]:
        pagination = (self._page("/suppliers").get("meta") or {}).get("pagination")
        if not isinstance(pagination, Mapping):
            return False, "a /suppliers page has no meta.pagination: qbsync reads until a short page"
        pages = contract.PAGINATION_NEXT in pagination or all(k in pagination for k in contract.PAGINATION_PAGES)
        total = isinstance(pagination.get(contract.PAGINATION_TOTAL), int)
        said = f"meta.pagination has {', '.join(sorted(pagination))}"
        if not total:
            said += f"; without `{contract.PAGINATION_TOTAL}` deletions in long lists wait for the daily full read"
        return pages and total, said

    def _modified_since(self) -> tuple[bool, str]:
        ahead = (self.precoro.server_time or datetime.now(timezone.utc)) + timedelta(days=1)
        rows = self.precoro.first_page("/suppliers", {contract.MODIFIED_SINCE: format_modified_since(ahead)}).get("data")
        if rows:
            return False, f"a modifiedSince a day ahead still answered {len(rows)} supplier(s): the filter is not applied"
        return True, "a modifiedSince a day ahead answered no suppliers"

    def _currencies(self) -> tuple[bool, str]:
        row = self._rows("/suppliers")[0]
        value = row.get(contract.CURRENCIES)
        if isinstance(value, list):
            return True, f"supplier {row.get('id')} has currencies {value}"
        return False, f"supplier {row.get('id')} has no list `{contract.CURRENCIES}` (it has {value!r})"

    def _owned_supplier(self) -> tuple[str, str]:
        """(Precoro id, externalId) of a supplier qbsync created and marked, as the mirror knows it."""
        if self.realm is None:
            raise _Unchecked("QuickBooks is not connected yet: the suppliers qbsync created are known by its company")
        links = dict(self.store.all_links(self.realm).get("suppliers", []))
        known = self.store.mirror_raws(self.realm, "precoro", "suppliers", list(links)[:500])
        for precoro_id, raw in known.items():
            external_id = bulk.loads(raw).get(contract.EXTERNAL_ID)
            if external_id not in (None, "") and str(external_id) == links.get(precoro_id):
                return precoro_id, str(external_id)
        raise _Unchecked("no supplier qbsync created in Precoro is known yet (plan and apply first)")

    def _external_id_filter(self) -> tuple[bool, str]:
        precoro_id, external_id = self._owned_supplier()
        rows = self.precoro.first_page("/suppliers", {contract.EXTERNAL_ID_FILTER: [external_id]}).get("data") or []
        ids = [str(row.get("id")) for row in rows]
        if ids == [precoro_id]:
            return True, f"external_id[]={external_id} answered supplier {precoro_id} only"
        return False, f"external_id[]={external_id} answered {ids or 'nothing'}, not supplier {precoro_id} alone"

    def _external_id_patch(self) -> tuple[bool, str]:
        precoro_id, external_id = self._owned_supplier()
        answer = self.precoro.set_external_id("/suppliers", precoro_id, external_id)
        now = (answer or {}).get(contract.EXTERNAL_ID)
        if answer and str(now) != external_id:
            return False, f"PATCH /suppliers/{precoro_id} answered externalId {now!r}, not {external_id!r}"
        return True, f"PATCH /suppliers/{precoro_id} externalId={external_id} (its own value) was accepted"

    def _document_filters(self) -> tuple[bool, str]:
        since = (datetime.now(timezone.utc) - timedelta(days=30)).strftime(contract.DATE_FILTER_FORMAT)
        query = {contract.SENT_TO_EXTERNAL: 0, contract.LOGIC_TYPE: [0], contract.APPROVED_FROM: since}
        try:
            rows = self.precoro.first_page("/invoices", query).get("data") or []
        except ValidationFailed as refused:
            return False, f"/invoices refused the filters: {refused}"
        wrong = [row.get("idn") for row in rows if row.get(contract.EXTERNAL_ID) not in (None, "")
                 or row.get(contract.LOGIC_TYPE, 0) != 0
                 or str(row.get("approvalDate") or "") and str(row.get("approvalDate"))[:10] < _iso(since)]
        if wrong:
            return False, f"invoices {wrong} do not match sent_to_external=0, logicType[]=0, approvalDate[left_date]={since}"
        return True, f"/invoices accepted sent_to_external, approvalDate[left_date]={since} and logicType[] ({len(rows)} on page 1)"

    def _credit_notes(self) -> tuple[bool, str]:
        query = {contract.LOGIC_TYPE: list(contract.CREDIT_NOTE_LOGIC_TYPES)}
        rows = self.precoro.first_page("/invoices", query).get("data") or []
        if not rows:
            raise _Unchecked("no credit notes (logicType 1 or 5) to look at")
        kinds = sorted({row.get(contract.LOGIC_TYPE) for row in rows}, key=str)
        if set(kinds) <= set(contract.CREDIT_NOTE_LOGIC_TYPES):
            return True, f"{len(rows)} credit note(s) of logicType {kinds}"
        return False, f"logicType[]=1,5 answered logic types {kinds}"

    # -- QuickBooks ----------------------------------------------------------------------------

    def _cdc(self) -> tuple[bool, str]:
        changes = self.quickbooks.cdc(["Vendor"], datetime.now(timezone.utc) - timedelta(days=1))
        return True, f"CDC answered ({len(changes.get('Vendor', []))} vendor(s) changed in the last day)"

    def _minorversion(self) -> tuple[bool, str]:
        try:
            self.quickbooks.company_info()
        except ValidationFailed as refused:
            return False, f"minorversion {self.quickbooks.minorversion} refused: {refused}"
        return True, f"minorversion {self.quickbooks.minorversion} accepted"

    def _grant_end(self) -> tuple[bool, str]:
        refreshed = ""
        if not self.quickbooks_said.get("grant_ends_at"):
            self.quickbooks.refresh_token()  # tokens stored before qbsync asked learn it at their next refresh
            refreshed = " (after a token refresh)"
        ends = self.quickbooks_said.get("grant_ends_at")
        if not ends:
            return False, ("a token refresh answered without x_refresh_token_hard_expires_in: qbsync warns of the "
                           "refresh token's end only, not of the authorization's five years")
        return True, f"the authorization ends on {ends[:10]}{refreshed}"


_QUICKBOOKS_SAYS = {
    "cdc": "QuickBooks change data capture (/cdc) answers for this company",
    "minorversion": "QuickBooks accepts the minorversion qbsync sends",
    "grant_end": "QuickBooks' token endpoint says when the authorization ends (Intuit's five years), asked "
                 "with x-include-refresh-token-hard-expires-in",
}


def _iso(day_month_year: str) -> str:
    return datetime.strptime(day_month_year, contract.DATE_FILTER_FORMAT).strftime("%Y-%m-%d")


def differs(checks: list[Check]) -> bool:
    return any(check.result == DIFFERS for check in checks)
