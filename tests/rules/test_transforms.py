"""The named transforms, match-key normalizers and length cuts that rules.yaml refers to."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.references import REFERENCED_SECTION
from rules.transforms import (
    NORMALIZERS,
    REFERENCE_TRANSFORMS,
    TRANSFORMS,
    Transform,
    canonical_scalar,
    normalize_key,
    truncate,
)

EMAILS = TRANSFORMS["email_list"]
DECIMAL = TRANSFORMS["decimal"]

_word = st.text(alphabet="abcxyzABCß0._+-", min_size=1, max_size=8)
emails = st.builds(lambda local, domain: f"{local}@{domain}.com", _word, st.text(alphabet="abcxyz-", min_size=1, max_size=6))
# What a side may hold: real addresses, their other-case spellings, blanks and padding.
email_entries = st.lists(
    st.one_of(emails, emails.map(str.upper), st.just(""), st.just("  "), emails.map(lambda e: f"  {e} ")),
    max_size=8,
)


def test_s3_email_list_reads_the_quickbooks_comma_separated_string():
    assert EMAILS.to_canonical("quickbooks", "Nateyecare@intuit.com, pauliejones15@intuit.com") == (
        "Nateyecare@intuit.com",
        "pauliejones15@intuit.com",
    )


def test_s3_email_list_reads_precoro_contacts_in_order_dropping_blanks_and_repeats():
    contacts = [" b@x.com ", "", None, "a@x.com", "B@X.com", "c@x.com,d@x.com"]
    assert EMAILS.to_canonical("precoro", contacts) == ("b@x.com", "a@x.com", "c@x.com", "d@x.com")


def test_s3_email_list_nothing_is_an_empty_tuple_on_both_sides():
    assert EMAILS.to_canonical("quickbooks", None) == ()
    assert EMAILS.to_canonical("quickbooks", " , ") == ()
    assert EMAILS.to_canonical("precoro", []) == ()
    assert EMAILS.from_canonical("quickbooks", ()) is None
    assert EMAILS.from_canonical("precoro", ()) == []


def test_s3_email_list_writes_quickbooks_one_string_and_precoro_one_contact_each():
    canonical = ("a@x.com", "b@x.com")
    assert EMAILS.from_canonical("quickbooks", canonical) == "a@x.com, b@x.com"
    assert EMAILS.from_canonical("precoro", canonical) == ["a@x.com", "b@x.com"]


@given(email_entries)
def test_s3_email_list_round_trips_from_precoro_through_quickbooks(entries):
    canonical = EMAILS.to_canonical("precoro", entries)
    written = EMAILS.from_canonical("quickbooks", canonical)
    assert EMAILS.to_canonical("quickbooks", written) == canonical
    assert EMAILS.to_canonical("precoro", EMAILS.from_canonical("precoro", canonical)) == canonical


@given(email_entries)
def test_s3_email_list_round_trips_from_quickbooks_through_precoro(entries):
    canonical = EMAILS.to_canonical("quickbooks", ", ".join(entries))
    assert EMAILS.to_canonical("precoro", EMAILS.from_canonical("precoro", canonical)) == canonical


@given(email_entries, st.sampled_from(["precoro", "quickbooks"]))
def test_s3_email_list_is_idempotent_and_keeps_first_spellings_in_order(entries, side):
    canonical = EMAILS.to_canonical(side, entries)
    assert EMAILS.to_canonical(side, canonical) == canonical
    folded = [email.casefold() for email in canonical]
    assert len(folded) == len(set(folded))
    assert all(email and email == email.strip() for email in canonical)
    firsts = {}
    for entry in entries:
        firsts.setdefault(entry.strip().casefold(), entry.strip())
    assert list(canonical) == [spelling for key, spelling in firsts.items() if key]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("12.50", "12.5"), (12.5, "12.5"), ("12.5", "12.5"), (100, "100"), ("1E+2", "100"), ("100.000", "100"),
     (0.1, "0.1"), (" 7 ", "7"), ("-0.00", "0"), (Decimal("3.10"), "3.1"), (None, None), ("", None), ("  ", None)],
)
def test_decimal_canonical_form(raw, canonical):
    assert DECIMAL.to_canonical("precoro", raw) == canonical
    assert DECIMAL.to_canonical("quickbooks", raw) == canonical


@pytest.mark.parametrize("raw", ["twelve", "1,200.50", "NaN", "Infinity", True])
def test_decimal_refuses_what_is_not_a_number(raw):
    with pytest.raises(ValueError, match="not a number"):
        DECIMAL.to_canonical("quickbooks", raw)


def test_decimal_writes_quickbooks_a_number_and_precoro_a_string():
    assert DECIMAL.from_canonical("quickbooks", "12.5") == 12.5
    assert DECIMAL.from_canonical("quickbooks", "100") == 100
    assert isinstance(DECIMAL.from_canonical("quickbooks", "100"), int)
    assert DECIMAL.from_canonical("precoro", "12.5") == "12.5"
    assert DECIMAL.from_canonical("quickbooks", None) is None


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**9, max_value=10**9))
def test_decimal_round_trips_through_both_sides(amount):
    canonical = DECIMAL.to_canonical("precoro", str(amount))
    for side in ("precoro", "quickbooks"):
        assert DECIMAL.to_canonical(side, DECIMAL.from_canonical(side, canonical)) == canonical


def test_text_transforms():
    assert TRANSFORMS["trim"].to_canonical("quickbooks", "  Acme  ") == "Acme"
    assert TRANSFORMS["trim"].to_canonical("quickbooks", "   ") is None
    assert TRANSFORMS["uppercase"].to_canonical("precoro", "ca") == "CA"
    assert TRANSFORMS["lowercase"].to_canonical("precoro", "Ops@Acme.COM") == "ops@acme.com"
    assert TRANSFORMS["uppercase"].to_canonical("precoro", None) is None
    assert TRANSFORMS["uppercase"].from_canonical("quickbooks", "CA") == "CA"


def test_every_transform_is_named_by_its_key_and_reference_transforms_are_the_engines():
    assert all(isinstance(t, Transform) and t.name == name for name, t in TRANSFORMS.items())
    assert {"email_list", "decimal", "trim", "uppercase", "lowercase"} <= TRANSFORMS.keys()
    assert REFERENCE_TRANSFORMS == {"supplier_link", "account_link", "term_link", "tax_link", "class_link", "location_link"}
    assert REFERENCE_TRANSFORMS == REFERENCED_SECTION.keys()  # each follows the links of one entity
    assert not REFERENCE_TRANSFORMS & TRANSFORMS.keys()


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("", None), ("  \t", None), (" Acme ", " Acme "), (0, 0), (12.5, 12.5), (True, True), (None, None),
     (["a", ""], ("a", None)), ({"value": "USD"}, {"value": "USD"})],
)
def test_canonical_scalar(raw, canonical):
    assert canonical_scalar(raw) == canonical


def test_s7_normalizers():
    assert NORMALIZERS["trim"]("  Acme \n") == "Acme"
    assert NORMALIZERS["casefold"]("STRASSE Straße") == "strasse strasse"
    assert NORMALIZERS["collapse_spaces"]("Acme   Office\t Supply") == "Acme Office Supply"
    assert NORMALIZERS["strip_accents"]("Café Ñandú Zürich") == "Cafe Nandu Zurich"


def test_s7_normalize_key_applies_the_named_normalizers_in_order():
    assert normalize_key("  Café  Déjà ", ["trim", "casefold", "collapse_spaces", "strip_accents"]) == "cafe deja"
    assert normalize_key(" Acme ", []) == " Acme "
    assert normalize_key(None, ["trim"]) == ""
    assert normalize_key(42, ["trim"]) == "42"


def test_i3_truncate_cuts_to_the_limit_and_says_so():
    assert truncate("x" * 301, 300) == ("x" * 300, True)
    assert truncate("x" * 300, 300) == ("x" * 300, False)
    assert truncate("é" * 120, 100) == ("é" * 100, True)  # characters, not bytes


def test_i3_truncate_leaves_missing_values_and_limits_alone():
    assert truncate(None, 100) == (None, False)
    assert truncate("x" * 1000, None) == ("x" * 1000, False)


@given(st.text(max_size=400), st.integers(min_value=1, max_value=350))
def test_i3_truncate_never_exceeds_the_limit_and_keeps_a_prefix(value, limit):
    cut, was_cut = truncate(value, limit)
    assert len(cut) <= limit and value.startswith(cut)
    assert was_cut == (cut != value)
