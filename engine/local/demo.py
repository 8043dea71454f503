"""Seed data for the local APIs: a demo company pair that exercises every SPEC rule, and a scale generator.

The demo is awkward on purpose: apostrophes, `&`, accents, emoji, a colon QuickBooks refuses, a
300-character name, comma-separated emails, a second currency, a supplier in two currencies, two
suppliers matching one vendor, a name that clashes with a QuickBooks customer, an inactive item, a
merge candidate, a free-of-charge item and a supplier-portal invoice. Ids are assigned in insertion
order, so the same seed always gives the same ids.
"""

from __future__ import annotations

from typing import Any, Iterator

DEMO_REALM = "9130357766900456"

LONG_NAME = ("Consolidated Industrial & Scientific Laboratory Equipment, Consumables, Reagents and Calibration "
             "Services for Research Institutions, Universities, Hospitals and Private Clinics across Europe, "
             "North America and Asia-Pacific, including Installation, Training, Maintenance Contracts and "
             "Extended Warranty Programmes (Holdings)")[:300]

# -- QuickBooks -------------------------------------------------------------------------------------

ACCOUNTS = [
    {"Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable", "AccountSubType": "AccountsPayable"},
    {"Name": "Office Supplies", "AccountType": "Expense", "AccountSubType": "OfficeGeneralAdministrativeExpenses"},
    {"Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold", "AccountSubType": "SuppliesMaterialsCogs"},
    {"Name": "Repairs & Maintenance", "AccountType": "Expense", "AccountSubType": "RepairMaintenance"},
    {"Name": "Software & Subscriptions", "AccountType": "Expense", "AccountSubType": "OtherMiscellaneousServiceCost"},
    {"Name": "Sales of Product Income", "AccountType": "Income", "AccountSubType": "SalesOfProductIncome"},
]

VENDORS = [
    # Matches Precoro "amy's bird sanctuary " (case and spaces differ): linked, and the phone differs.
    {"DisplayName": "Amy's Bird Sanctuary", "CurrencyRef": {"value": "USD"},
     "PrimaryPhone": {"FreeFormNumber": "(650) 555-3311"},
     "PrimaryEmailAddr": {"Address": "amy@birds.example, orders@birds.example"},
     "BillAddr": {"Line1": "4581 Finch St.", "City": "Bayshore", "CountrySubDivisionCode": "CA", "PostalCode": "94326", "Country": "USA"}},
    # Identical on both sides: linked cleanly.
    {"DisplayName": "Robertson & Associates", "CurrencyRef": {"value": "USD"},
     "PrimaryPhone": {"FreeFormNumber": "(650) 555-9876"}, "AcctNum": "RA-1001",
     "BillAddr": {"Line1": "P.O. Box 147", "City": "Bayshore", "CountrySubDivisionCode": "CA", "PostalCode": "94326", "Country": "USA"}},
    # A second currency.
    {"DisplayName": "Müller Büromaterial GmbH", "CurrencyRef": {"value": "EUR"},
     "PrimaryEmailAddr": {"Address": "info@mueller-buero.example"},
     "BillAddr": {"Line1": "Königstraße 12", "City": "Stuttgart", "PostalCode": "70173", "Country": "Germany"}},
    # Precoro's "Acme Supplies" trades in two currencies: not matched automatically (S7).
    {"DisplayName": "Acme Supplies", "CurrencyRef": {"value": "USD"}},
    # Two Precoro suppliers match this one vendor: an ambiguity for the operator.
    {"DisplayName": "Northwind Traders", "CurrencyRef": {"value": "USD"}},
    # Only in QuickBooks: created in Precoro, its emails as separate contacts (S3, S8).
    {"DisplayName": "Only In QuickBooks LLC", "CurrencyRef": {"value": "USD"},
     "PrimaryEmailAddr": {"Address": "ap@onlyqb.example,billing@onlyqb.example, ap@onlyqb.example"},
     "PrimaryPhone": {"FreeFormNumber": "+1 415 555 0100"}},
    {"DisplayName": "🚀 Rocket Parts Co.", "CurrencyRef": {"value": "USD"}},
    # Inactive already: never matched, never created in Precoro.
    {"DisplayName": "Old Vendor Co", "CurrencyRef": {"value": "USD"}, "Active": False},
]

CUSTOMERS = [
    # A Precoro supplier of the same name cannot be created as a vendor (S9, 6240).
    {"DisplayName": "Harbor Café", "CurrencyRef": {"value": "USD"}},
]

ITEMS = [
    # Identical name in Precoro: linked by Sync Items (I1).
    {"Name": "Copy paper A4", "Sku": "CP-A4-500", "Type": "NonInventory", "PurchaseCost": 4.5,
     "PurchaseDesc": "500 sheets, 80 g/m²", "ExpenseAccount": "Office Supplies", "PrefVendor": "Robertson & Associates"},
    # Mapped by hand to Precoro "Toner black" (different names, I6).
    {"Name": "Printer toner, black", "Sku": "TN-2420", "Type": "NonInventory", "PurchaseCost": 61.0,
     "PurchaseDesc": "High-yield toner cartridge", "ExpenseAccount": "Office Supplies", "PrefVendor": "Robertson & Associates"},
    # Precoro's free-of-charge item of the same name keeps its price (I7).
    {"Name": "Sample kit", "Sku": "SK-01", "Type": "NonInventory", "PurchaseCost": 25.0,
     "ExpenseAccount": "Cost of Goods Sold"},
    # Inactive: cannot be matched or mapped (I9).
    {"Name": "Fax machine", "Sku": "FAX-9", "Type": "NonInventory", "PurchaseCost": 120.0, "Active": False,
     "ExpenseAccount": "Office Supplies"},
    # A merge pair: merging "Landscape" into "Landscaping" in the QuickBooks UI (I10).
    {"Name": "Landscaping", "Sku": "LS-100", "Type": "Service", "PurchaseCost": 80.0, "ExpenseAccount": "Repairs & Maintenance"},
    {"Name": "Landscape", "Sku": "LS-101", "Type": "Service", "PurchaseCost": 75.0, "ExpenseAccount": "Repairs & Maintenance"},
    {"Name": "Annual software licence", "Sku": "SW-LIC", "Type": "Service", "PurchaseCost": 1200.0,
     "ExpenseAccount": "Software & Subscriptions", "PrefVendor": "Müller Büromaterial GmbH"},
]

# A TaxCode names its rates; the percent is on the TaxRate (D5).
TAX_RATES = [{"Name": "VAT 20%", "RateValue": 20, "Description": "Standard rate"},
             {"Name": "Zero", "RateValue": 0, "Description": "Zero rate"}]
TAX_CODES = [{"Name": "VAT 20%", "Description": "Standard rate", "rate": "VAT 20%"},
             {"Name": "Zero-rated", "Description": "0%", "rate": "Zero"}]
TERMS = [{"Name": "Net 30", "DueDays": 30}, {"Name": "Net 15", "DueDays": 15}, {"Name": "Due on receipt", "DueDays": 0}]
CLASSES = [{"Name": "Operations"}, {"Name": "Research & Development"}]
DEPARTMENTS = [{"Name": "Boston"}, {"Name": "Berlin"}]

# -- Precoro ----------------------------------------------------------------------------------------

SUPPLIERS = [
    {"name": "amy's bird sanctuary ", "currencies": ["USD"], "phone": "(650) 555-3300",
     "legalAddress": "4581 Finch St.", "city": "Bayshore", "state": "CA", "postalCode": "94326", "country": "USA",
     "contacts": [{"name": "Amy", "email": "amy@birds.example"}, {"name": "Orders", "email": "orders@birds.example"}]},
    {"name": "Robertson & Associates", "currencies": ["USD"], "phone": "(650) 555-9876", "accountNumber": "RA-1001",
     "legalAddress": "P.O. Box 147", "city": "Bayshore", "state": "CA", "postalCode": "94326", "country": "USA"},
    {"name": "Müller Büromaterial GmbH", "currencies": ["EUR"], "legalAddress": "Königstraße 12",
     "city": "Stuttgart", "postalCode": "70173", "country": "Germany",
     "contacts": [{"name": "Info", "email": "info@mueller-buero.example"}]},
    {"name": "Acme Supplies", "currencies": ["USD", "EUR"]},
    {"name": "Northwind Traders", "currencies": ["USD"]},
    {"name": "NORTHWIND TRADERS", "currencies": ["USD"], "city": "Seattle"},
    # Only in Precoro: created in QuickBooks (S8), apostrophe and a full address.
    {"name": "O'Brien & Sons Ltd.", "currencies": ["USD"], "phone": "+353 1 555 0199", "legalAddress": "12 Quay St",
     "city": "Dublin", "postalCode": "D02 X285", "country": "Ireland",
     "contacts": [{"name": "Sean", "email": "sean@obrien.example"}]},
    # Clashes with a QuickBooks customer: QuickBooks refuses the create (S9), the rest goes on.
    {"name": "Harbor Café", "currencies": ["USD"]},
    # QuickBooks refuses ':' in a vendor name: its own error in the apply report.
    {"name": "Parts: Ltd", "currencies": ["USD"]},
    {"name": LONG_NAME, "currencies": ["USD"]},
    # Inactive and never linked: left alone.
    {"name": "Zeta Logistics", "currencies": ["USD"], "enable": False},
]

PRECORO_ITEMS = [
    {"name": "Copy paper A4", "sku": "PAPER-A4", "price": 4.2, "supplier": "Robertson & Associates"},
    {"name": "Toner black", "sku": "TONER-B", "price": 58.0},
    {"name": "Sample kit", "sku": "SK-01", "price": 0.0, "freeOfCharge": True},
    {"name": "Fax machine", "price": 110.0},
    {"name": "Landscape", "price": 75.0},
    {"name": "Ergonomic office chair with adjustable lumbar support " + "and extra-long description " * 10, "price": 349.0},
]


def seed_quickbooks(state: Any, realm: str = DEMO_REALM) -> dict[str, str]:
    """Load the demo QuickBooks company through the local server's state API; returns account ids by name."""
    accounts = {a["Name"]: state.insert(realm, "Account", a)["Id"] for a in ACCOUNTS}
    vendors = {v["DisplayName"]: state.insert(realm, "Vendor", v)["Id"] for v in VENDORS}
    for customer in CUSTOMERS:
        state.insert(realm, "Customer", customer)
    for item in ITEMS:
        body = {k: v for k, v in item.items() if k not in ("ExpenseAccount", "PrefVendor")}
        body["ExpenseAccountRef"] = {"value": accounts[item["ExpenseAccount"]], "name": item["ExpenseAccount"]}
        body["IncomeAccountRef"] = {"value": accounts["Sales of Product Income"], "name": "Sales of Product Income"}
        if "PrefVendor" in item:
            body["PrefVendorRef"] = {"value": vendors[item["PrefVendor"]], "name": item["PrefVendor"]}
        state.insert(realm, "Item", body)
    for entity, rows in (("Term", TERMS), ("Class", CLASSES), ("Department", DEPARTMENTS)):
        for row in rows:
            state.insert(realm, entity, row)
    rates = {rate["Name"]: state.insert(realm, "TaxRate", rate)["Id"] for rate in TAX_RATES}
    for code in TAX_CODES:
        detail = {"TaxRateRef": {"value": rates[code["rate"]], "name": code["rate"]}, "TaxTypeApplicable": "TaxOnAmount",
                  "TaxOrder": 0}
        state.insert(realm, "TaxCode", {"Name": code["Name"], "Description": code["Description"], "Taxable": True,
                                        "PurchaseTaxRateList": {"TaxRateDetail": [detail]},
                                        "SalesTaxRateList": {"TaxRateDetail": []}})
    return accounts


def seed_precoro(state: Any, accounts: dict[str, str]) -> None:
    """Load the demo Precoro company through the local server's state API.

    The chart of accounts is there as if it had been imported from QuickBooks (L1): each option
    carries its account's id as `externalId`.
    """
    suppliers = {}
    for supplier in SUPPLIERS:
        suppliers[supplier["name"]] = state.insert("suppliers", supplier)["id"]
    chart = state.insert("itemcustomfields", {"name": "Chart of accounts"})["id"]
    options = {}
    for index, account in enumerate(ACCOUNTS):
        options[account["Name"]] = state.insert("itemcustomfield_options", {
            "customField": chart, "name": account["Name"], "code": f"A{index + 1}",
            "externalId": accounts[account["Name"]]})["id"]
    # Where classes and locations are imported to (L1); empty until the first sync.
    state.insert("itemcustomfields", {"name": "Classes"})
    state.insert("documentcustomfields", {"name": "Locations"})
    items = {}
    for item in PRECORO_ITEMS:
        body = dict(item)
        if "supplier" in body:
            body["supplier"] = suppliers[body["supplier"]]
        items[item["name"]] = state.insert("items", body)["id"]
    state.insert("taxes", {"name": "VAT 20%", "percent": 20.0})
    state.insert("paymentterms", {"name": "Net 30", "creditPeriodDays": 30})
    # A supplier-portal invoice (S6) and a staff purchase order, both approved.
    state.insert("invoices", {
        "status": 2, "fromSupplier": True, "invoiceNumber": "INV-2026-0042", "supplier": suppliers["Robertson & Associates"],
        "items": [{"item": items["Copy paper A4"], "name": "Copy paper A4", "quantity": 10, "price": 4.2},
                  {"item": None, "name": "Courier delivery", "quantity": 1, "price": 15.0,
                   "itemCustomFields": {chart: options["Office Supplies"]}}],
    })
    state.insert("purchaseorders", {
        "status": 2, "supplier": suppliers["amy's bird sanctuary "],
        "items": [{"item": None, "name": "Bird seed, 20 kg", "quantity": 3, "price": 32.5,
                   "itemCustomFields": {chart: options["Cost of Goods Sold"]}}],
    })


# -- scale ------------------------------------------------------------------------------------------


def seed_scale(quickbooks: Any, precoro: Any, realm: str, count: int, matched: float = 0.6) -> None:
    """N suppliers and N items on each side (`qbsync local serve --seed scale:N`), in bulk; the
    first `matched` share of them match by name and agree on every field, the rest exist on one
    side only."""
    items = scale_items(count, "quickbooks", matched)
    if matched < 1:  # all matched: the items agree on every field (Precoro has no chart of accounts to map to)
        account = quickbooks.insert(realm, "Account", {"Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold"})["Id"]
        items = ({**item, "ExpenseAccountRef": {"value": account}} for item in items)
    quickbooks.bulk_insert(realm, "Vendor", scale_vendors(count, matched))
    quickbooks.bulk_insert(realm, "Item", items)
    precoro.bulk_insert("suppliers", scale_suppliers(count, matched))
    precoro.bulk_insert("items", scale_items(count, "precoro", matched))


def scale_vendors(count: int, matched: float = 0.6) -> Iterator[dict]:
    for i in range(count):
        yield {"DisplayName": _scale_name(i, "quickbooks", count, matched), "CurrencyRef": {"value": "USD"},
               "PrimaryPhone": {"FreeFormNumber": f"+1 555 {i:07d}"}, "AcctNum": f"AC-{i}"}


def scale_suppliers(count: int, matched: float = 0.6) -> Iterator[dict]:
    for i in range(count):
        yield {"name": _scale_name(i, "precoro", count, matched), "currencies": ["USD"], "phone": f"+1 555 {i:07d}",
               "accountNumber": f"AC-{i}"}


def scale_items(count: int, side: str, matched: float = 0.6) -> Iterator[dict]:
    for i in range(count):
        name = _scale_name(i, side, count, matched, noun="Part")
        if side == "quickbooks":
            yield {"Name": name[:100], "Sku": f"SKU-{i}", "Type": "NonInventory", "PurchaseCost": round(1 + i % 997 * 0.5, 2)}
        else:
            yield {"name": name, "sku": f"SKU-{i}", "price": round(1 + i % 997 * 0.5, 2)}


def _scale_name(i: int, side: str, count: int, matched: float, noun: str = "Supplier") -> str:
    if i < int(count * matched):
        return f"{noun} {i:06d}"
    return f"{noun} {side[0].upper()}{i:06d}"
