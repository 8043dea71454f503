"""W5: a rules file that breaks the rules is refused with file, line, column and what was expected."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import rules
from rules.defaults import DEFAULTS
from rules.errors import RuleProblem, RulesError


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        rules.loads(text)
    return str(caught.value).splitlines()


def test_w5_wrong_enum_names_the_allowed_values():
    assert problems("version: 1\nsuppliers:\n  conflict: ask_me\n") == [
        "rules.yaml:3:13: suppliers.conflict: expected one of ask, precoro_wins, quickbooks_wins, newest_wins;"
        " got 'ask_me'"
    ]


def test_w5_wrong_direction_of_one_field():
    assert problems("version: 1\nsuppliers:\n  fields:\n    phone: {direction: outwards}\n") == [
        "rules.yaml:4:24: suppliers.fields.phone.direction: expected one of both, to_quickbooks, to_precoro;"
        " got 'outwards'"
    ]


def test_w5_unknown_key_suggests_the_close_one():
    assert problems("version: 1\nsuppliers:\n  feilds: {}\n") == [
        "rules.yaml:3:3: suppliers: unknown key 'feilds' (did you mean 'fields'?)"
    ]


def test_w5_unknown_key_with_nothing_close_lists_the_known_ones():
    assert problems("version: 1\nconnections:\n  xero: {environment: local}\n") == [
        "rules.yaml:3:3: connections: unknown key 'xero'; expected one of quickbooks, precoro"
    ]


def test_w5_unknown_key_inside_a_field():
    assert problems("version: 1\nitems:\n  fields:\n    sku: {max_lenght: {precoro: 10}}\n") == [
        "rules.yaml:4:11: items.fields.sku: unknown key 'max_lenght' (did you mean 'max_length'?)"
    ]


def test_w5_wrong_type():
    assert problems("version: 1\nsuppliers:\n  match: {keys: name}\n") == [
        "rules.yaml:3:17: suppliers.match.keys: expected a list; got 'name'"
    ]
    assert problems("version: 1\nitems:\n  fields:\n    name: {max_length: {precoro: lots}}\n") == [
        "rules.yaml:4:34: items.fields.name.max_length.precoro: expected a whole number; got 'lots'"
    ]


def test_w5_an_empty_section_is_pointed_at_by_its_key():
    assert problems("version: 1\nsuppliers:\nitems: {}\n") == [
        "rules.yaml:2:1: suppliers: expected a mapping (key: value); got nothing (an empty value)"
    ]


def test_w5_bad_path_syntax():
    text = "version: 1\nsuppliers:\n  fields:\n    city: {quickbooks: BillAddr..City}\n"
    assert problems(text) == [
        "rules.yaml:4:24: suppliers.fields.city.quickbooks: expected a value like BillAddr.City or contacts[].email;"
        " got 'BillAddr..City'"
    ]


@pytest.mark.parametrize("path", ["BillAddr.City", "contacts[].email", "dataProductCustomFields[].option.id", "_a1"])
def test_w5_good_paths_pass(path):
    rules.loads(f"version: 1\nsuppliers:\n  fields:\n    extra: {{precoro: '{path}', quickbooks: Notes}}\n")


@pytest.mark.parametrize("path", ["Bill Addr", "1st", "a.", ".a", "a[]x", "a[0]", "a..b", "a[][]"])
def test_w5_bad_paths_are_refused(path):
    [problem] = problems(f"version: 1\nsuppliers:\n  fields:\n    extra: {{precoro: '{path}', quickbooks: Notes}}\n")
    assert problem.endswith(f"expected a value like BillAddr.City or contacts[].email; got '{path}'")


def test_w5_a_field_name_must_be_a_plain_name():
    assert problems("version: 1\nsuppliers:\n  fields:\n    tax-id: {precoro: a, quickbooks: b}\n") == [
        "rules.yaml:4:5: suppliers.fields: 'tax-id' is not a usable name;"
        " expected a name like legalAddress or chart_of_accounts"
    ]


def test_s7_unknown_match_key_suggests_a_field():
    assert problems("version: 1\nsuppliers:\n  match: {keys: [name, curency]}\n") == [
        "rules.yaml:3:24: suppliers.match.keys[1]: 'curency' is not a field of suppliers (did you mean 'currency'?)"
    ]


def test_s7_disabling_a_default_match_key_field_is_refused_at_the_switch():
    assert problems("version: 1\nsuppliers:\n  fields:\n    currency: {enabled: false}\n") == [
        "rules.yaml:4:25: suppliers.fields.currency.enabled: field 'currency' is a match key"
        " (suppliers.match.keys), so it cannot be disabled unless suppliers.match.keys leaves it out"
    ]


def test_s7_a_disabled_field_in_the_operators_own_match_keys_is_refused_there():
    text = "version: 1\nsuppliers:\n  match: {keys: [currency]}\n  fields:\n    currency: {enabled: false}\n"
    assert problems(text) == [
        "rules.yaml:3:18: suppliers.match.keys[0]: field 'currency' is disabled; enable it or leave it out here"
    ]


def test_s7_unknown_normalizer():
    assert problems("version: 1\nsuppliers:\n  match: {normalize: [trim, casefolding]}\n") == [
        "rules.yaml:3:29: suppliers.match.normalize[1]: unknown normalizer 'casefolding' (did you mean 'casefold'?);"
        " known: trim, casefold, collapse_spaces, strip_accents"
    ]


def test_s7_match_keys_cannot_be_empty_or_repeated():
    assert problems("version: 1\nitems:\n  match: {keys: []}\n") == [
        "rules.yaml:3:17: items.match.keys: expected at least 1 entry; got an empty list"
    ]
    assert problems("version: 1\nitems:\n  match: {keys: [name, name]}\n") == [
        "rules.yaml:3:24: items.match.keys: 'name' is listed twice"
    ]


def test_s3_unknown_transform_suggests_the_close_one():
    assert problems("version: 1\nsuppliers:\n  fields:\n    emails: {transform: email_lst}\n") == [
        "rules.yaml:4:25: suppliers.fields.emails.transform: unknown transform 'email_lst' (did you mean 'email_list'?);"
        " known: account_link, class_link, date, decimal, email_list, location_link, lowercase, supplier_link, tax_link,"
        " term_link, trim, uppercase"
    ]


def test_w5_one_quickbooks_path_mapped_by_two_fields_is_refused():
    text = "version: 1\nsuppliers:\n  fields:\n    mobile: {precoro: phone, quickbooks: PrimaryPhone.FreeFormNumber}\n"
    assert problems(text) == [
        "rules.yaml:4:42: suppliers.fields: fields 'phone' and 'mobile' both map the QuickBooks path"
        " 'PrimaryPhone.FreeFormNumber'; a QuickBooks value can belong to one field only"
    ]


def test_w5_a_quickbooks_path_taken_from_a_default_field_is_reported_where_the_operator_wrote_it():
    assert problems("version: 1\nsuppliers:\n  fields:\n    phone: {quickbooks: AcctNum}\n") == [
        "rules.yaml:4:25: suppliers.fields: fields 'phone' and 'accountNumber' both map the QuickBooks path"
        " 'AcctNum'; a QuickBooks value can belong to one field only"
    ]


def test_w5_new_fields_without_paths_are_reported_once_each():
    assert problems("version: 1\nsuppliers:\n  fields:\n    a: {precoro: a}\n    b: {precoro: b}\n") == [
        "rules.yaml:4:5: suppliers.fields.a: missing key 'quickbooks': the path in the QuickBooks JSON,"
        " e.g. BillAddr.City.",
        "rules.yaml:5:5: suppliers.fields.b: missing key 'quickbooks': the path in the QuickBooks JSON,"
        " e.g. BillAddr.City.",
    ]


def test_w5_a_disabled_field_frees_its_quickbooks_path():
    text = ("version: 1\nsuppliers:\n  fields:\n    phone: {enabled: false}\n"
            "    mobile: {precoro: phone, quickbooks: PrimaryPhone.FreeFormNumber}\n")
    assert rules.loads(text).suppliers.field("mobile").quickbooks == "PrimaryPhone.FreeFormNumber"


def test_w5_a_new_field_needs_both_paths():
    assert problems("version: 1\nsuppliers:\n  fields:\n    taxId: {precoro: taxPayerNumber}\n") == [
        "rules.yaml:4:5: suppliers.fields.taxId: missing key 'quickbooks': the path in the QuickBooks JSON,"
        " e.g. BillAddr.City."
    ]


def test_i3_max_length_must_be_positive():
    assert problems("version: 1\nitems:\n  fields:\n    name: {max_length: {quickbooks: 0}}\n") == [
        "rules.yaml:4:37: items.fields.name.max_length.quickbooks: expected a number of at least 1; got 0"
    ]


def test_i6_item_mapping_must_name_item_fields():
    assert problems("version: 1\nitems:\n  mapping: {same_name: [prise]}\n") == [
        "rules.yaml:3:25: items.mapping.same_name[0]: 'prise' is not a field of items (did you mean 'price'?)"
    ]


def test_i6_disabling_a_field_the_default_mapping_copies_is_refused_at_the_switch():
    assert problems("version: 1\nitems:\n  fields:\n    supplier: {enabled: false}\n") == [
        "rules.yaml:4:25: items.fields.supplier.enabled: field 'supplier' is copied when mapping an item"
        " (items.mapping.different_name), so it cannot be disabled unless items.mapping.different_name leaves it out"
    ]


def test_w5_missing_version():
    assert problems("suppliers: {enabled: true}\n") == [
        "rules.yaml:1:1: missing key 'version': the rules file format; write `version: 1`."
    ]


def test_w5_wrong_version():
    assert problems("version: 2\n") == ["rules.yaml:1:10: version: expected 1; got 2"]
    assert problems("version: '1'\n") == ["rules.yaml:1:10: version: expected 1; got '1'"]


def test_w5_realm_id_is_a_quoted_string_of_digits():
    assert problems("version: 1\nconnections:\n  quickbooks: {realm_id: 4620816365}\n") == [
        "rules.yaml:3:26: connections.quickbooks.realm_id: expected a string (text); got 4620816365;"
        " put it in quotes: '4620816365'"
    ]
    assert problems("version: 1\nconnections:\n  quickbooks: {realm_id: 'realm-1'}\n") == [
        "rules.yaml:3:26: connections.quickbooks.realm_id: expected a value like 9130357766900456; got 'realm-1'"
    ]


def test_w5_urls_must_be_http():
    assert problems("version: 1\nconnections:\n  precoro: {base_url: 'ftp://example.com'}\n") == [
        "rules.yaml:3:23: connections.precoro.base_url: expected a value like"
        " https://sandbox-quickbooks.api.intuit.com/v3; got 'ftp://example.com'"
    ]


def test_w5_several_errors_are_all_reported_best_first_then_in_file_order():
    text = (
        "version: 1\n"
        "suppliers:\n"
        "  conflict: ask_me\n"
        "  enabled: yes\n"
        "  feilds: {}\n"
        "items:\n"
        "  when_merged: merge\n"
        "  names_from: quickbooks\n"
        "  names_from: precoro\n"
    )
    assert problems(text) == [
        "rules.yaml:5:3: suppliers: unknown key 'feilds' (did you mean 'fields'?)",
        "rules.yaml:3:13: suppliers.conflict: expected one of ask, precoro_wins, quickbooks_wins, newest_wins;"
        " got 'ask_me'",
        "rules.yaml:4:12: suppliers.enabled: expected a boolean (true/false); got 'yes'",
        "rules.yaml:7:16: items.when_merged: expected one of move_link, unlink; got 'merge'",
        "rules.yaml:9:3: items: duplicate key 'names_from' (first set at line 8, column 3); keep one",
    ]


def test_w5_several_semantic_errors_are_all_reported():
    text = (
        "version: 1\n"
        "suppliers:\n"
        "  match: {keys: [nam]}\n"
        "  fields:\n"
        "    emails: {transform: mails}\n"
    )
    assert problems(text) == [
        "rules.yaml:3:18: suppliers.match.keys[0]: 'nam' is not a field of suppliers (did you mean 'name'?)",
        "rules.yaml:5:25: suppliers.fields.emails.transform: unknown transform 'mails' (did you mean 'email_list'?);"
        " known: account_link, class_link, date, decimal, email_list, location_link, lowercase, supplier_link, tax_link,"
        " term_link, trim, uppercase",
    ]


def test_w5_load_reports_the_path_it_was_given(tmp_path):
    path = tmp_path / "ops" / "rules.yaml"
    path.parent.mkdir()
    path.write_text("version: 1\nsuppliers:\n  conflict: ask_me\n", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        rules.load(path)
    [problem] = caught.value.problems
    assert (problem.path, problem.line, problem.column) == (str(path), 3, 13)
    assert str(caught.value).startswith(f"{path}:3:13: suppliers.conflict: expected one of")


def test_w5_loads_names_its_source_in_problems():
    assert problems_from("version: 2\n", source="staging/rules.yaml") == [
        "staging/rules.yaml:1:10: version: expected 1; got 2"
    ]


def problems_from(text: str, source: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        rules.loads(text, source=source)
    return str(caught.value).splitlines()


def test_w5_rules_error_puts_the_best_first_then_file_order_without_repeats():
    late, early, best = (RuleProblem("r.yaml", 9, 1, "late"), RuleProblem("r.yaml", 2, 5, "early"),
                         RuleProblem("r.yaml", 5, 1, "best"))
    error = RulesError([late, early, best, early], best)
    assert error.problems == (best, early, late)
    assert str(error) == "r.yaml:5:1: best\nr.yaml:2:5: early\nr.yaml:9:1: late"


def _key_paths(node, prefix=()):
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _key_paths(value, prefix + (key,))


_WORDS = ["name", "currency", "enabled", "precoro", "quickbooks", "email_list", "a.b", "x[]", "both", "ask", "sku"]
_VALUES = st.recursive(
    st.one_of(st.sampled_from(_WORDS), st.integers(-2, 400), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_WORDS), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(_key_paths(DEFAULTS))), _VALUES), min_size=1, max_size=3))
def test_w5_any_edit_of_the_defaults_loads_or_is_refused_with_positions(edits):
    data = copy.deepcopy(DEFAULTS)
    for path, value in edits:
        parent = data
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                break
            parent = parent[key]
        else:
            parent[path[-1]] = value
    try:
        rules.loads(yaml.safe_dump(data))
    except RulesError as error:
        assert error.problems
        assert all(re.fullmatch(r"rules\.yaml:\d+:\d+: .+", line) for line in str(error).splitlines())


def test_w5_safety_share_must_be_a_number_between_0_and_1():
    import pytest

    with pytest.raises(rules.RulesError) as raised:
        rules.loads("version: 1\nsafety:\n  max_change_share: []\n")
    assert "rules.yaml:3:21: safety.max_change_share: expected a number" in str(raised.value)
    with pytest.raises(rules.RulesError):
        rules.loads("version: 1\nsafety:\n  max_change_share: 1.5\n")


def test_d8_split_cost_is_parent_or_children_said_at_its_line_and_column():
    assert problems("version: 1\ndocuments:\n  invoices:\n    split_cost: both\n") == [
        "rules.yaml:4:17: documents.invoices.split_cost: expected one of parent, children; got 'both'"]


def test_d8_split_cost_belongs_to_invoices_only():
    assert problems("version: 1\ndocuments:\n  credit_notes:\n    split_cost: children\n") == [
        "rules.yaml:4:17: documents.credit_notes.split_cost: only invoices are split; leave it out here"]


def test_d8_credit_notes_and_attachments_come_from_the_file():
    loaded = rules.loads("version: 1\ndocuments:\n  credit_notes: false\n  invoices: {attachments: true, "
                         "split_cost: children}\n")
    assert loaded.entity("credit_notes").enabled is False
    assert (loaded.entity("invoices").attachments, loaded.entity("invoices").split_cost) == (True, "children")
    assert (loaded.entity("purchase_orders").attachments, loaded.entity("purchase_orders").split_cost) == (False, "parent")


def test_d9_payments_rules_are_checked_like_any_entity_with_file_line_and_column():
    # A wrong type inside a document's or a list's own rules is named too (not only `true`/`false`).
    assert problems("version: 1\ndocuments:\n  payments: {enabled: maybe}\n") == [
        "rules.yaml:3:23: documents.payments.enabled: expected a boolean (true/false); got 'maybe'"
    ]
    assert problems("version: 1\ndocuments:\n  payments:\n    fields:\n      amount: {enabled: false}\n") == [
        "rules.yaml:5:25: documents.payments.fields.amount.enabled: field 'amount' is a match key "
        "(documents.payments.match.keys), so it cannot be disabled unless documents.payments.match.keys leaves it out"
    ]
    assert not rules.loads("version: 1\ndocuments: {payments: false}\n").entity("payments").enabled
