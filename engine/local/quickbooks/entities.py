"""The entities the local QuickBooks serves: their properties, limits, references and write rules.

Pure functions on JSON dicts; `state.py` adds storage, ids and lookups. Facts come from the fact
sheet (§3 writes, §9 fields and limits); simplifications and choices the public docs leave open are
marked "our convention":

- Names are unique case-insensitively (`str.casefold`): DisplayName across Vendor, Customer and
  Employee; Name within each other name list (Item, Account, Term, Class, ...).
- An inactive record gives up its name: its stored name carries " (deleted)" and it leaves the
  uniqueness namespace, so the original name can be reused (the fact sheet calls this likely).
- Reactivating (`Active: true`) strips " (deleted)" unless the request sets another name.
- A full update that omits `Active` keeps the current value (never reactivates by accident).
- Empty strings and nulls in a request mean "no value" (QBO returns only properties with values).
- No sub-item/sub-account hierarchy: FullyQualifiedName equals Name.
- Item and Account account references are optional (the real API requires some per Item Type).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any, Callable, Iterator, Mapping

from . import errors
from .payments import shape_bill_payment

DELETED_SUFFIX = " (deleted)"
PARTY = frozenset({"Vendor", "Customer", "Employee"})
COMMON = frozenset({"Id", "SyncToken", "domain", "sparse", "MetaData"})
# Read-only or derived everywhere: a full update that omits them keeps the stored value.
KEPT_BY_FULL_UPDATE = frozenset(
    {"Id", "SyncToken", "domain", "MetaData", "Active", "Balance", "BalanceWithJobs", "CurrencyRef",
     "CurrentBalance", "CurrentBalanceWithSubAccounts", "LinkedTxn"}
)
CURRENCY_NAMES = {
    "USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling",
    "CAD": "Canadian Dollar", "AUD": "Australian Dollar", "CHF": "Swiss Franc",
    "JPY": "Japanese Yen", "MXN": "Mexican Peso", "INR": "Indian Rupee", "SEK": "Swedish Krona",
}
# QBO refuses these in names: `:` separates levels of a FullyQualifiedName.
_NAME_BREAKERS = re.compile(r"[:\t\n\r]")
PERSON_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
LINE_DETAILS = ("ItemBasedExpenseLineDetail", "AccountBasedExpenseLineDetail")
# US companies put these pseudo tax codes on lines; they are not TaxCode records.
US_LINE_TAX_CODES = frozenset({"TAX", "NON"})
# Fields compared as numbers in queries (`TotalAmt > '300.00'` is a numeric comparison).
NUMERIC_FIELDS = frozenset(
    {"Balance", "BalanceWithJobs", "TotalAmt", "HomeTotalAmt", "UnitPrice", "PurchaseCost", "QtyOnHand",
     "CurrentBalance", "CurrentBalanceWithSubAccounts", "DueDays", "DiscountDays", "DiscountPercent",
     "RateValue", "BillRate", "CostRate", "ExchangeRate", "Level"}
)
ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset", "Accounts Receivable": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset",
    "Other Asset": "Asset", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Other Current Liability": "Liability", "Long Term Liability": "Liability", "Equity": "Equity",
    "Income": "Revenue", "Other Income": "Revenue", "Expense": "Expense", "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
}


@dataclass(frozen=True)
class Entity:
    """What the local API knows about one entity type."""

    name: str
    kind: str  # "name_list" | "transaction" | "singleton"
    properties: frozenset[str]
    name_field: str | None = None
    required: tuple[str, ...] = ()
    max_lengths: Mapping[str, int] = field(default_factory=dict)
    no_special_chars: tuple[str, ...] = ()
    email_fields: tuple[str, ...] = ()
    # dotted path of a reference (lists are walked through) -> the entity it must point to
    refs: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    has_fully_qualified_name: bool = False

    @property
    def path(self) -> str:
        return self.name.lower()

    @property
    def is_name_list(self) -> bool:
        return self.kind == "name_list"

    @property
    def name_scope(self) -> str:
        return "party" if self.name in PARTY else self.name

    def known(self, prop: str) -> bool:
        return prop in COMMON or prop in self.properties

    @cached_property
    def length_tree(self) -> dict[str, Any]:
        """`max_lengths` as nested dicts: {"BillAddr": {"City": 255, ...}, "DisplayName": 500}."""
        tree: dict[str, Any] = {}
        for path, limit in self.max_lengths.items():
            *parents, leaf = path.split(".")
            node = tree
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = limit
        return tree


def _address(prefix: str) -> dict[str, int]:
    limits = {f"{prefix}.Line{n}": 500 for n in range(1, 6)}
    limits.update({f"{prefix}.City": 255, f"{prefix}.CountrySubDivisionCode": 255,
                   f"{prefix}.PostalCode": 30, f"{prefix}.Country": 255})
    return limits


_PHONES = {f"{p}.FreeFormNumber": 30 for p in ("PrimaryPhone", "AlternatePhone", "Mobile", "Fax")}
_PERSON = {"Title": 16, "GivenName": 100, "MiddleName": 100, "FamilyName": 100, "Suffix": 16,
           "DisplayName": 500, "PrintOnCheckName": 100, "PrimaryEmailAddr.Address": 100, **_PHONES}
_PERSON_CHARS = ("DisplayName", *PERSON_NAME_PARTS, "PrintOnCheckName")
_CONTACT = {"Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "DisplayName", "PrintOnCheckName",
            "Active", "PrimaryPhone", "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr",
            "OtherContactInfo", "BillRate", "CostRate", "Balance", "CurrencyRef", "Source"}
_LIST_NAME = {"Name", "Active", "FullyQualifiedName", "ParentRef"}
_TXN = {"DocNumber", "TxnDate", "DepartmentRef", "PrivateNote", "Line", "TxnTaxDetail", "VendorRef",
        "APAccountRef", "SalesTermRef", "DueDate", "TotalAmt", "CurrencyRef", "ExchangeRate",
        "GlobalTaxCalculation", "LinkedTxn", "HomeTotalAmt", "VendorAddr", "AttachableRef",
        "TransactionLocationType", "RecurDataRef", "CustomField"}
_LINE_REFS = {
    f"Line.{detail}.{ref}": target
    for detail in LINE_DETAILS
    for ref, target in (("CustomerRef", "Customer"), ("ClassRef", "Class"), ("TaxCodeRef", "TaxCode"))
} | {"Line.ItemBasedExpenseLineDetail.ItemRef": "Item", "Line.AccountBasedExpenseLineDetail.AccountRef": "Account"}
_TXN_REFS = {"VendorRef": "Vendor", "APAccountRef": "Account", "SalesTermRef": "Term",
             "DepartmentRef": "Department", **_LINE_REFS}
_TXN_LIMITS = {"DocNumber": 21, "PrivateNote": 4000, "Line.Description": 4000}


def _entities() -> dict[str, Entity]:
    found = [
        Entity("Vendor", "name_list", frozenset(_CONTACT | {
            "CompanyName", "BillAddr", "TaxIdentifier", "TermRef", "AcctNum", "Vendor1099", "APAccountRef",
            "TaxReportingBasis", "T4AEligible", "T5018Eligible", "GSTIN", "GSTRegistrationType",
            "BusinessNumber", "HasTPAR", "VendorPaymentBankDetail"}),
            name_field="DisplayName",
            max_lengths={**_PERSON, "CompanyName": 100, "AcctNum": 100, "TaxIdentifier": 20, "WebAddr.URI": 1000,
                         **_address("BillAddr")},
            no_special_chars=_PERSON_CHARS, email_fields=("PrimaryEmailAddr.Address",),
            refs={"TermRef": "Term", "APAccountRef": "Account"},
            defaults={"Balance": 0, "Vendor1099": False, "Active": True}),
        Entity("Customer", "name_list", frozenset(_CONTACT | {
            "CompanyName", "FullyQualifiedName", "BillAddr", "ShipAddr", "Notes", "Taxable", "Job",
            "BillWithParent", "ParentRef", "Level", "SalesTermRef", "PaymentMethodRef", "OpenBalanceDate",
            "BalanceWithJobs", "PreferredDeliveryMethod", "ResaleNum", "DefaultTaxCodeRef", "CustomerTypeRef",
            "ARAccountRef", "PrimaryTaxIdentifier", "IsProject", "GSTIN", "GSTRegistrationType",
            "BusinessNumber"}),
            name_field="DisplayName",
            max_lengths={**_PERSON, "CompanyName": 100, **_address("BillAddr"), **_address("ShipAddr")},
            no_special_chars=_PERSON_CHARS, email_fields=("PrimaryEmailAddr.Address",),
            refs={"SalesTermRef": "Term", "DefaultTaxCodeRef": "TaxCode"},
            defaults={"Job": False, "BillWithParent": False, "Balance": 0, "BalanceWithJobs": 0,
                      "PreferredDeliveryMethod": "Print", "Active": True},
            has_fully_qualified_name=True),
        Entity("Employee", "name_list", frozenset(_CONTACT | {
            "PrimaryAddr", "EmployeeNumber", "SSN", "BillableTime", "HiredDate", "ReleasedDate", "BirthDate",
            "Gender", "Organization"}),
            name_field="DisplayName", max_lengths={**_PERSON, **_address("PrimaryAddr")},
            no_special_chars=_PERSON_CHARS, email_fields=("PrimaryEmailAddr.Address",),
            defaults={"BillableTime": False, "Active": True}),
        Entity("Item", "name_list", frozenset(_LIST_NAME | {
            "Sku", "Description", "SubItem", "Level", "Taxable", "SalesTaxIncluded", "UnitPrice", "Type",
            "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost", "ExpenseAccountRef",
            "AssetAccountRef", "PrefVendorRef", "TrackQtyOnHand", "QtyOnHand", "InvStartDate", "ReorderPoint",
            "SalesTaxCodeRef", "PurchaseTaxCodeRef", "ClassRef", "AbatementRate", "ReverseChargeRate",
            "ServiceType", "ItemCategoryType", "Source", "TaxClassificationRef"}),
            name_field="Name", required=("Name",),
            max_lengths={"Name": 100, "Sku": 100, "Description": 4000, "PurchaseDesc": 1000},
            refs={"IncomeAccountRef": "Account", "ExpenseAccountRef": "Account", "AssetAccountRef": "Account",
                  "PrefVendorRef": "Vendor", "ClassRef": "Class"},
            defaults={"Active": True, "Taxable": False, "UnitPrice": 0, "Type": "NonInventory",
                      "PurchaseCost": 0, "TrackQtyOnHand": False},
            has_fully_qualified_name=True),
        Entity("Account", "name_list", frozenset(_LIST_NAME | {
            "SubAccount", "Description", "Classification", "AccountType", "AccountSubType", "AcctNum",
            "CurrentBalance", "CurrentBalanceWithSubAccounts", "CurrencyRef", "TaxCodeRef", "AccountAlias",
            "TxnLocationType", "OpeningBalance", "OpeningBalanceDate"}),
            name_field="Name", required=("Name",), max_lengths={"AccountAlias": 100, "Description": 100},
            defaults={"SubAccount": False, "Active": True, "CurrentBalance": 0, "CurrentBalanceWithSubAccounts": 0},
            has_fully_qualified_name=True),
        Entity("TaxCode", "name_list", frozenset(_LIST_NAME | {
            "Description", "Hidden", "Taxable", "TaxGroup", "SalesTaxRateList", "PurchaseTaxRateList",
            "TaxCodeConfigType"}),
            name_field="Name", required=("Name",), defaults={"Active": True}),
        Entity("TaxRate", "name_list", frozenset(_LIST_NAME | {
            "Description", "RateValue", "AgencyRef", "TaxReturnLineRef", "SpecialTaxType", "DisplayType",
            "EffectiveTaxRate"}),
            name_field="Name", required=("Name",), defaults={"Active": True}),
        Entity("Term", "name_list", frozenset(_LIST_NAME | {
            "Type", "DiscountPercent", "DueDays", "DiscountDays", "DayOfMonthDue", "DueNextMonthDays",
            "DiscountDayOfMonth"}),
            name_field="Name", required=("Name",), max_lengths={"Name": 31},
            defaults={"Active": True, "Type": "STANDARD"}),
        Entity("Class", "name_list", frozenset(_LIST_NAME | {"SubClass"}),
               name_field="Name", required=("Name",), defaults={"SubClass": False, "Active": True},
               has_fully_qualified_name=True),
        Entity("Department", "name_list", frozenset(_LIST_NAME | {"SubDepartment"}),
               name_field="Name", required=("Name",), defaults={"SubDepartment": False, "Active": True},
               has_fully_qualified_name=True),
        Entity("Bill", "transaction", frozenset(_TXN | {"Balance", "HomeBalance", "IncludeInAnnualTPAR"}),
               required=("VendorRef", "Line"), max_lengths=_TXN_LIMITS, refs=_TXN_REFS),
        # A credit from a vendor (D8): a Bill's header without terms or due date; its Balance is
        # what is still unapplied (all of it until a BillPayment applies it).
        Entity("VendorCredit", "transaction", frozenset(_TXN - {"SalesTermRef", "DueDate", "VendorAddr"} | {
            "Balance", "IncludeInAnnualTPAR"}),
               required=("VendorRef", "Line"), max_lengths=_TXN_LIMITS,
               refs={name: target for name, target in _TXN_REFS.items() if name != "SalesTermRef"}),
        # A file (or a note) attached to records (fact sheet §Attachable). Files come through
        # `/upload` (app.py); the file itself is kept beside the record, not in it.
        Entity("Attachable", "attachment", frozenset({
            "FileName", "FileAccessUri", "TempDownloadUri", "Size", "ContentType", "AttachableRef", "Note",
            "Category", "Tag", "ThumbnailFileAccessUri", "ThumbnailTempDownloadUri", "Lat", "Long",
            "PlaceName"}),
            # Our convention: the real limits are not in the reference (fact sheet: [UNCONFIRMED]).
            max_lengths={"FileName": 1000, "Note": 2000, "Tag": 2000}),
        Entity("BillPayment", "transaction", frozenset({
            "VendorRef", "PayType", "CheckPayment", "CreditCardPayment", "TotalAmt", "TxnDate", "Line", "DocNumber",
            "PrivateNote", "CurrencyRef", "ExchangeRate", "APAccountRef", "DepartmentRef", "ProcessBillPayment",
            "TransactionLocationType"}),
            required=("VendorRef",), max_lengths={"DocNumber": 21, "PrivateNote": 4000},
            refs={"VendorRef": "Vendor", "APAccountRef": "Account", "DepartmentRef": "Department",
                  "CheckPayment.BankAccountRef": "Account", "CreditCardPayment.CCAccountRef": "Account"}),
        Entity("PurchaseOrder", "transaction", frozenset(_TXN | {
            "POStatus", "POEmail", "ShipAddr", "ShipMethodRef", "ShipTo", "ClassRef", "Memo", "EmailStatus",
            "TaxCodeRef"}),
            required=("VendorRef", "Line"), max_lengths={**_TXN_LIMITS, **_address("ShipAddr")},
            refs={**_TXN_REFS, "ClassRef": "Class"}, defaults={"POStatus": "Open"}),
        Entity("Preferences", "singleton", frozenset({
            "AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs", "EmailMessagesPrefs",
            "VendorAndPurchasesPrefs", "TimeTrackingPrefs", "TaxPrefs", "CurrencyPrefs", "ReportPrefs",
            "OtherPrefs"})),
        Entity("CompanyInfo", "singleton", frozenset({
            "CompanyName", "LegalName", "CompanyAddr", "CustomerCommunicationAddr", "LegalAddr",
            "CustomerCommunicationEmailAddr", "PrimaryPhone", "CompanyStartDate", "FiscalYearStartMonth",
            "Country", "Email", "WebAddr", "SupportedLanguages", "NameValue", "EmployerId"})),
    ]
    return {entity.name: entity for entity in found}


ENTITIES: dict[str, Entity] = _entities()
BY_PATH: dict[str, Entity] = {entity.path: entity for entity in ENTITIES.values()}


def values_at(obj: Any, path: str) -> Iterator[Any]:
    """Every value at a dotted path, walking through lists (`Line.Description` -> each line's)."""
    head, _, rest = path.partition(".")
    if isinstance(obj, list):
        for element in obj:
            yield from values_at(element, path)
        return
    if not isinstance(obj, dict) or head not in obj:
        return
    value = obj[head]
    if not rest:
        if isinstance(value, list):
            yield from value
        else:
            yield value
    else:
        yield from values_at(value, rest)


def without_empty(value: Any) -> Any:
    """Drop nulls and empty strings, and objects left empty by that (python-quickbooks sends `""`)."""
    if isinstance(value, list):
        return [without_empty(item) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if item is None or item == "":
            continue
        if isinstance(item, (dict, list)):
            cleaned = without_empty(item)
            if isinstance(item, dict) and item and not cleaned:
                continue
            item = cleaned
        kept[key] = item
    return kept


def check_properties(entity: Entity, body: Mapping[str, Any]) -> None:
    unknown = body.keys() - entity.properties - COMMON
    if unknown:
        raise errors.unknown_property(min(unknown), entity.name)


def is_numeric_id(text: str) -> bool:
    return text.isascii() and text.isdigit()


def deleted_name(name: str) -> str:
    return name if name.endswith(DELETED_SUFFIX) else name + DELETED_SUFFIX


def restored_name(name: str) -> str:
    return name[: -len(DELETED_SUFFIX)] if name.endswith(DELETED_SUFFIX) else name


def name_key(name: str) -> str:
    return name.casefold()


def currency_ref(code: str) -> dict[str, str]:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


@dataclass
class WriteContext:
    """What shaping needs from the company: its home currency, today, and a record lookup."""

    home_currency: str
    today: str
    lookup: Callable[[str, str], dict | None]


def shape(entity: Entity, obj: dict, before: dict | None, request: Mapping[str, Any], context: WriteContext) -> dict:
    """Fill defaults and derived fields, apply the Active/name rules, and validate. Returns `obj`."""
    if before is None:
        for key, value in entity.defaults.items():
            obj.setdefault(key, value)
    if entity.name in PARTY:
        _shape_party(entity, obj)
    if entity.name == "BillPayment":
        obj.setdefault("TxnDate", context.today)
        shape_bill_payment(obj, before, context.lookup)
        _transaction_currency(obj, context)
    elif entity.kind == "transaction":
        _shape_transaction(entity, obj, context)
    if entity.name == "Attachable":
        _shape_attachable(obj, context)
    if entity.name in ("Vendor", "Customer", "Account"):
        _shape_currency(entity, obj, before, request, context.home_currency)
    if entity.name == "Account" and obj.get("AccountType") in ACCOUNT_CLASSIFICATION:
        obj.setdefault("Classification", ACCOUNT_CLASSIFICATION[obj["AccountType"]])
    validate(entity, obj)
    if entity.is_name_list:
        _apply_active_naming(entity, obj, before, request)
        if entity.has_fully_qualified_name:
            obj["FullyQualifiedName"] = obj[entity.name_field]
    return obj


def validate(entity: Entity, obj: Mapping[str, Any]) -> None:
    if entity.name in PARTY and not any(obj.get(part) for part in ("DisplayName", *PERSON_NAME_PARTS)):
        raise errors.required_missing("DisplayName")
    for prop in entity.required:
        if not obj.get(prop):
            raise errors.required_missing(prop)
    _check_lengths(entity.length_tree, obj, "")
    for prop in entity.no_special_chars:
        value = obj.get(prop)
        if isinstance(value, str) and _NAME_BREAKERS.search(value):
            raise errors.invalid_characters(prop)
    for path in entity.email_fields:
        for value in values_at(obj, path):
            addresses = [part.strip() for part in str(value).split(",") if part.strip()]
            if not all("@" in address and "." in address for address in addresses):
                raise errors.invalid_email(path)


def _check_lengths(tree: Mapping[str, Any], obj: Any, prefix: str) -> None:
    """Walk the object along the limits tree: cost follows the object, not the number of limits."""
    if isinstance(obj, list):
        for element in obj:
            _check_lengths(tree, element, prefix)
        return
    if not isinstance(obj, dict):
        return
    for key in tree.keys() & obj.keys():
        limit, value = tree[key], obj[key]
        if isinstance(limit, dict):
            _check_lengths(limit, value, f"{prefix}{key}.")
        elif isinstance(value, str) and len(value) > limit:
            raise errors.too_long(f"{prefix}{key}", limit, len(value))


def _shape_party(entity: Entity, obj: dict) -> None:
    if not obj.get("DisplayName"):
        # Our convention for the name QBO builds when only name parts are given.
        obj["DisplayName"] = " ".join(obj[part] for part in PERSON_NAME_PARTS if obj.get(part))
    obj.setdefault("PrintOnCheckName", restored_name(obj["DisplayName"])[:100])


def _shape_currency(entity: Entity, obj: dict, before: dict | None, request: Mapping, home: str) -> None:
    if before is None:
        code = (obj.get("CurrencyRef") or {}).get("value") or home
        obj["CurrencyRef"] = currency_ref(code)
        return
    stored = before["CurrencyRef"]
    asked = (request.get("CurrencyRef") or {}).get("value")
    if entity.name == "Vendor" and asked and asked != stored["value"]:
        # Fact sheet §11: "Once set, it cannot be changed". The wording is our convention.
        raise errors.business_rule("The currency of a vendor cannot be changed once it is set.", "CurrencyRef")
    obj["CurrencyRef"] = stored


def _apply_active_naming(entity: Entity, obj: dict, before: dict | None, request: Mapping) -> None:
    field_name = entity.name_field
    was_active = True if before is None else before.get("Active", True)
    is_active = obj.get("Active", True)
    if not is_active:
        obj[field_name] = deleted_name(obj[field_name])
    elif not was_active and request.get(field_name) in (None, before[field_name]):
        obj[field_name] = restored_name(before[field_name])


def _shape_transaction(entity: Entity, obj: dict, context: WriteContext) -> None:
    obj.setdefault("TxnDate", context.today)
    lines = obj.get("Line")
    if not isinstance(lines, list) or not lines:
        raise errors.required_missing("Line")
    taken = {str(line.get("Id")) for line in lines if isinstance(line, dict) and line.get("Id")}
    next_id = 1
    total = 0.0
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            raise errors.required_missing("Line.DetailType")
        detail_type = line.get("DetailType")
        if not detail_type:
            raise errors.required_missing("Line.DetailType")
        if detail_type not in LINE_DETAILS:
            raise errors.invalid_enumeration("Line.DetailType", detail_type)
        detail = line.get(detail_type)
        if not isinstance(detail, dict):
            raise errors.required_missing(f"Line.{detail_type}")
        ref = "ItemRef" if detail_type == "ItemBasedExpenseLineDetail" else "AccountRef"
        if not (detail.get(ref) or {}).get("value"):
            raise errors.required_missing(f"Line.{detail_type}.{ref}")
        if "Amount" not in line:
            if "Qty" in detail and "UnitPrice" in detail:
                line["Amount"] = round(float(detail["Qty"]) * float(detail["UnitPrice"]), 2)
            else:
                raise errors.required_missing("Line.Amount")
        if not line.get("Id"):
            while str(next_id) in taken:
                next_id += 1
            line["Id"] = str(next_id)
            taken.add(line["Id"])
        line["LineNum"] = number
        total += float(line["Amount"])
    obj["TotalAmt"] = round(total, 2)
    if entity.name in ("Bill", "VendorCredit"):
        # Less what its payments paid (a Bill): the state knows them (payments.py).
        obj["Balance"] = obj["TotalAmt"]
    if entity.name == "Bill":
        obj.setdefault("DueDate", obj["TxnDate"])
    _transaction_currency(obj, context)


def _transaction_currency(obj: dict, context: WriteContext) -> None:
    """A transaction is in its vendor's currency."""
    vendor = context.lookup("Vendor", str((obj.get("VendorRef") or {}).get("value", "")))
    vendor_currency = (vendor or {}).get("CurrencyRef", {}).get("value", context.home_currency)
    asked = (obj.get("CurrencyRef") or {}).get("value")
    if asked and asked != vendor_currency:
        raise errors.business_rule("The transaction currency must be the vendor's currency.", "CurrencyRef")
    obj["CurrencyRef"] = currency_ref(vendor_currency)


# Files QuickBooks does not take as attachments. Precoro's own integration drops `.zip` and `.heic`
# attachments (FAQ item 27): taken as what QuickBooks refuses. The wording of the refusal is our
# convention; its size limit is not modelled (fact sheet: [UNCONFIRMED]).
REFUSED_FILE_TYPES = frozenset({".zip", ".heic"})


def refused_type(file_name: str) -> None:
    suffix = PurePosixPath(file_name.lower()).suffix
    if suffix in REFUSED_FILE_TYPES:
        raise errors.business_rule(f"The file type {suffix} is not supported for attachments.", "FileName")


def guess_content_type(file_name: str) -> str:
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def _shape_attachable(obj: dict, context: WriteContext) -> None:
    """A file or a note, linked to records that exist (the real refusal text: attachment__error_estimate__0)."""
    if not obj.get("FileName") and not obj.get("Note"):
        raise errors.required_missing("Note")
    refs = obj.get("AttachableRef") or []
    if not isinstance(refs, list):
        raise errors.invalid_reference("AttachableRef")
    for ref in refs:
        target = (ref or {}).get("EntityRef") or {}
        kind, value = str(target.get("type") or ""), str(target.get("value") or "")
        entity = next((e for e in ENTITIES.values() if e.name.lower() == kind.lower()), None)
        found = context.lookup(entity.name, value) if entity is not None and is_numeric_id(value) else None
        if found is None:
            raise errors.business_rule(f"The entity {kind} {value} that you are trying to link does not exist. "
                                       f"{kind} {value}", "")
        ref.setdefault("IncludeOnSend", False)


def check_references(entity: Entity, obj: dict, lookup: Callable[[str, str], dict | None]) -> None:
    """Every reference must point to an existing, active record; fills each ref's `name` as QBO does."""
    for path, target in entity.refs.items():
        for ref in values_at(obj, path):
            if not isinstance(ref, dict):
                raise errors.invalid_reference(path)
            value = str(ref.get("value", ""))
            if target == "TaxCode" and value in US_LINE_TAX_CODES:
                continue
            found = lookup(target, value) if is_numeric_id(value) else None
            if found is None:
                raise errors.invalid_reference(path)
            if not found.get("Active", True):
                raise errors.inactive_reference(path)
            ref["value"] = value
            name_field = ENTITIES[target].name_field
            ref["name"] = found.get("FullyQualifiedName") or found[name_field]


def repoint_references(entity: Entity, obj: dict, target: str, old_id: str, new_ref: dict) -> bool:
    """Point every reference to `target` #old_id at `new_ref` instead; True when something changed."""
    changed = False
    for path, ref_target in entity.refs.items():
        if ref_target != target:
            continue
        for ref in values_at(obj, path):
            if isinstance(ref, dict) and str(ref.get("value")) == old_id:
                ref.update(new_ref)
                changed = True
    return changed
