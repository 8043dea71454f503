"""W5: what rules.yaml says is what the engine gets; the shipped file is the SPEC defaults."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import yaml

import rules
from rules.defaults import DEFAULTS

SHIPPED = Path(__file__).resolve().parents[2] / "rules.yaml"


def with_fields(entity: str, fields: str) -> rules.Rules:
    return rules.loads(f"version: 1\n{entity}:\n  fields:\n{fields}")


def same_rules(a: rules.Rules, b: rules.Rules) -> bool:
    return dataclasses.replace(a, source="", digest="") == dataclasses.replace(b, source="", digest="")


def test_w5_shipped_rules_yaml_loads_and_equals_the_defaults_of_version_1_alone():
    assert same_rules(rules.load(SHIPPED), rules.loads("version: 1\n"))


def test_w5_shipped_rules_yaml_spells_out_every_default():
    assert yaml.safe_load(SHIPPED.read_text(encoding="utf-8")) == DEFAULTS


def test_w5_loading_never_rewrites_the_file_and_records_source_and_digest(tmp_path):
    path = tmp_path / "rules.yaml"
    content = SHIPPED.read_bytes()
    path.write_bytes(content)
    loaded = rules.load(path)
    assert path.read_bytes() == content
    assert loaded.source == str(path)
    assert loaded.digest == hashlib.sha256(content).hexdigest()
    assert rules.loads("version: 1\n").digest != rules.loads("version: 1\nitems: {enabled: false}\n").digest


def test_s1_default_supplier_fields():
    suppliers = rules.loads("version: 1\n").suppliers
    assert [(f.name, f.precoro, f.quickbooks) for f in suppliers.fields] == [
        ("name", "name", "DisplayName"),
        ("currency", "currency", "CurrencyRef.value"),
        ("legalAddress", "legalAddress", "BillAddr.Line1"),
        ("city", "city", "BillAddr.City"),
        ("state", "state", "BillAddr.CountrySubDivisionCode"),
        ("postalCode", "postalCode", "BillAddr.PostalCode"),
        ("country", "country", "BillAddr.Country"),
        ("phone", "phone", "PrimaryPhone.FreeFormNumber"),
        ("accountNumber", "accountNumber", "AcctNum"),
        ("emails", "contacts[].email", "PrimaryEmailAddr.Address"),
    ]
    assert all(f.direction == "both" and f.conflict is None for f in suppliers.fields)
    assert suppliers.conflict == "ask"
    assert not suppliers.field("currency").update and suppliers.field("name").update
    assert suppliers.field("emails").transform == "email_list"


def test_s7_default_match_is_name_and_currency_ignoring_case_and_spaces():
    assert rules.loads("version: 1\n").suppliers.match == rules.MatchRule(("name", "currency"), ("trim", "casefold"))


def test_s7_match_keys_and_normalize_come_from_the_file():
    loaded = rules.loads("version: 1\nsuppliers:\n  match: {keys: [name], normalize: [collapse_spaces, strip_accents]}\n")
    assert loaded.suppliers.match == rules.MatchRule(("name",), ("collapse_spaces", "strip_accents"))


def test_s8_create_flags_come_from_the_file():
    loaded = rules.loads("version: 1\nsuppliers:\n  create: {in_precoro: false}\n")
    assert loaded.suppliers.create == rules.CreateRule(in_quickbooks=True, in_precoro=False)
    assert not loaded.suppliers.create.allows("precoro")


def test_s2_conflict_policy_per_entity_and_per_field():
    loaded = rules.loads(
        "version: 1\nsuppliers:\n  conflict: newest_wins\n  fields:\n    phone: {conflict: quickbooks_wins}\n"
    )
    assert loaded.suppliers.conflict == "newest_wins"
    assert loaded.suppliers.field("phone").policy(loaded.suppliers.conflict) == "quickbooks_wins"
    assert loaded.suppliers.field("city").policy(loaded.suppliers.conflict) == "newest_wins"


def test_s1_direction_per_field_and_the_rest_of_the_field_kept():
    phone = with_fields("suppliers", "    phone: {direction: to_quickbooks}\n").suppliers.field("phone")
    assert (phone.direction, phone.precoro, phone.quickbooks) == ("to_quickbooks", "phone", "PrimaryPhone.FreeFormNumber")
    assert phone.writes_to("quickbooks") and not phone.writes_to("precoro")


def test_s3_contact_mapping_can_be_turned_off():
    suppliers = with_fields("suppliers", "    emails: {enabled: false}\n").suppliers
    assert not suppliers.has_field("emails")
    assert len(suppliers.fields) == 9


def test_s4_s5_when_inactive_comes_from_the_file():
    loaded = rules.loads("version: 1\nsuppliers:\n  when_inactive: {in_quickbooks: deactivate_in_precoro, in_precoro: unlink}\n")
    assert loaded.suppliers.when_inactive == rules.InactiveRule("deactivate_in_precoro", "unlink")
    defaults = rules.loads("version: 1\n")
    assert defaults.suppliers.when_inactive == rules.InactiveRule("unlink", "deactivate_in_quickbooks")
    assert defaults.items.when_inactive == rules.InactiveRule("unlink", "ignore")


def test_w5_a_new_field_is_added_after_the_defaults_and_update_false_is_kept():
    suppliers = with_fields(
        "suppliers", "    taxId: {precoro: taxPayerNumber, quickbooks: TaxIdentifier, update: false, transform: trim}\n"
    ).suppliers
    assert suppliers.fields[-1] == rules.FieldRule(
        name="taxId", precoro="taxPayerNumber", quickbooks="TaxIdentifier", transform="trim", update=False
    )


def test_i3_max_length_per_side():
    items = rules.loads("version: 1\n").items
    assert items.field("name").max_length == {"precoro": 300, "quickbooks": 100}
    assert items.field("sku").max_length == {"precoro": 300, "quickbooks": 100}
    assert items.field("price").max_length == {}
    changed = with_fields("items", "    name: {max_length: {quickbooks: 50}}\n").items.field("name")
    assert changed.max_length == {"precoro": 300, "quickbooks": 50}


def test_i1_i2_i5_i6_i7_i10_item_defaults():
    items = rules.loads("version: 1\n").items
    assert isinstance(items, rules.ItemRules)
    assert items.match == rules.MatchRule(("name",), ())
    assert items.create == rules.CreateRule(in_quickbooks=False, in_precoro=False)
    assert items.conflict == "quickbooks_wins"
    assert items.names_from == "quickbooks"
    assert items.mapping == rules.ItemMappingRule(
        same_name=("price",), different_name=("sku", "description", "price", "supplier", "chart_of_accounts")
    )
    assert items.free_of_charge_keeps_price is True
    assert items.when_merged == "move_link"
    assert [f.name for f in items.fields] == ["name", "sku", "description", "price", "supplier", "chart_of_accounts"]
    assert all(f.direction == "to_precoro" for f in items.fields)
    assert items.field("supplier").transform == "supplier_link"
    assert items.field("chart_of_accounts").precoro == "dataProductCustomFields[].option.id"


def test_i2_i5_i7_i10_item_keys_come_from_the_file():
    items = rules.loads(
        "version: 1\nitems:\n  names_from: precoro\n  mapping: {same_name: [], different_name: [sku]}\n"
        "  free_of_charge_keeps_price: false\n  when_merged: unlink\n  enabled: false\n"
    ).items
    assert (items.names_from, items.free_of_charge_keeps_price, items.when_merged, items.enabled) == (
        "precoro", False, "unlink", False
    )
    assert items.mapping == rules.ItemMappingRule(same_name=(), different_name=("sku",))


def test_w5_connections_come_from_the_file():
    connections = rules.loads(
        "version: 1\nconnections:\n"
        "  quickbooks: {environment: sandbox, realm_id: '9130357766900456',"
        " base_url: 'https://sandbox-quickbooks.api.intuit.com/v3'}\n"
        "  precoro: {environment: us}\n"
    ).connections
    assert connections.quickbooks == rules.QuickBooksConnection(
        environment="sandbox", base_url="https://sandbox-quickbooks.api.intuit.com/v3", realm_id="9130357766900456"
    )
    assert connections.precoro == rules.PrecoroConnection(environment="us")
    assert rules.loads("version: 1\n").connections == rules.Connections()


def test_d1_l1_documents_and_lists_come_from_the_file():
    loaded = rules.loads("version: 1\ndocuments: {invoices: false, purchase_orders: true}\nlists: {classes: false}\n")
    enabled = {section: entity.enabled for section, entity in loaded.entities.items()}
    assert enabled == {"suppliers": True, "items": True, "chart_of_accounts": True, "taxes": True, "terms": True,
                       "classes": False, "locations": True, "invoices": False, "purchase_orders": True,
                       "credit_notes": True, "payments": True}
    defaults = rules.loads("version: 1\n")
    assert (defaults.entity("invoices").enabled, defaults.entity("purchase_orders").enabled) == (True, False)
    # A list given its own rules instead of true/false keeps the defaults it does not name.
    terms = rules.loads("version: 1\nlists:\n  terms: {fields: {due_days: {enabled: false}}}\n").entity("terms")
    assert terms.enabled and [f.name for f in terms.fields] == ["name"] and terms.create.in_precoro
