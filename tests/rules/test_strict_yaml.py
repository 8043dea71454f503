"""The strict YAML reader under rules.yaml (W5): no silent duplicates, no YAML 1.1 coercions."""

from __future__ import annotations

import pytest
import yaml

import rules
from rules.loader import read


def problems(text: str) -> list[str]:
    with pytest.raises(rules.RulesError) as caught:
        rules.loads(text)
    return str(caught.value).splitlines()


def data(text: str) -> dict:
    document = read(text, "rules.yaml")
    assert document.problems == ()
    return document.data


def test_w5_duplicate_key_is_refused_at_the_second_key():
    text = "version: 1\nsuppliers:\n  conflict: ask\n  enabled: true\n  conflict: precoro_wins\n"
    assert problems(text) == [
        "rules.yaml:5:3: suppliers: duplicate key 'conflict' (first set at line 3, column 3); keep one"
    ]


def test_w5_duplicate_key_in_a_flow_mapping_and_at_the_top():
    text = "version: 1\nitems: {enabled: true, enabled: false}\nversion: 1\n"
    assert problems(text) == [
        "rules.yaml:2:24: items: duplicate key 'enabled' (first set at line 2, column 9); keep one",
        "rules.yaml:3:1: duplicate key 'version' (first set at line 1, column 1); keep one",
    ]


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On"])
def test_w5_yaml_1_1_booleans_stay_strings(word):
    assert data(f"a: {word}\n{word}: 1\n") == {"a": word, word: 1}


@pytest.mark.parametrize("text", ["2024-01-01", "2024-01-01 10:00:00", "12:30", "1:20:30", "012", "0x1F",
                                  "0o17", "1_000", "+.inf", ".nan", "1e3"])
def test_w5_dates_times_sexagesimals_and_octals_stay_strings(text):
    assert data(f"a: {text}\n") == {"a": text}


def test_w5_true_false_numbers_and_null_keep_their_types():
    assert data("a: true\nb: False\nc: 12\nd: -3\ne: 1.5\nf: ~\ng:\nh: null\ni: '12'\nj: \"true\"\n") == {
        "a": True, "b": False, "c": 12, "d": -3, "e": 1.5, "f": None, "g": None, "h": None, "i": "12", "j": "true",
    }


def test_w5_yes_where_a_boolean_belongs_is_refused():
    assert problems("version: 1\nitems:\n  free_of_charge_keeps_price: yes\n") == [
        "rules.yaml:3:31: items.free_of_charge_keeps_price: expected a boolean (true/false); got 'yes'"
    ]


def test_w5_a_quoted_true_is_text_not_a_boolean():
    assert problems('version: 1\nsuppliers: {enabled: "true"}\n') == [
        "rules.yaml:2:22: suppliers.enabled: expected a boolean (true/false); got 'true'"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_w5_empty_file(text):
    assert problems(text) == ["rules.yaml:1:1: the file is empty; a rules file needs at least `version: 1`"]


def test_w5_top_level_must_be_a_mapping():
    assert problems("- version: 1\n") == [
        "rules.yaml:1:1: expected a mapping of keys at the top level (like `version: 1`); got a list"
    ]
    assert problems("\nhello\n") == [
        "rules.yaml:2:1: expected a mapping of keys at the top level (like `version: 1`); got the value 'hello'"
    ]


def test_w5_yaml_syntax_error_has_its_line_and_column():
    assert problems("version: 1\nsuppliers:\n  conflict: ask: now\n") == [
        "rules.yaml:3:16: YAML syntax error: mapping values are not allowed here"
    ]
    assert problems("version: 1\nitems: [name\n") == [
        "rules.yaml:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)"
    ]


def test_w5_tabs_are_refused_with_their_position():
    assert problems("version: 1\nsuppliers:\n\tenabled: true\n") == [
        "rules.yaml:3:1: a tab character here; YAML indents with spaces only"
    ]


def test_w5_aliases_are_refused_so_a_billion_laughs_file_cannot_blow_up():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 30)]
    assert problems("\n".join(lines) + "\n") == [
        "rules.yaml:2:10: anchors and aliases (&name / *name) are not supported; write the value out"
    ]


def test_w5_a_second_document_is_refused():
    assert problems("version: 1\n---\nversion: 1\n") == [
        "rules.yaml:2:1: YAML syntax error: expected a single document in the stream, but found another document"
    ]


def test_w5_tags_are_refused_and_never_run_code():
    assert problems("version: 1\nsuppliers: !!python/object/apply:os.system ['true']\n") == [
        "rules.yaml:2:12: suppliers: expected a mapping (key: value); got a list",
        "rules.yaml:2:12: suppliers: unsupported tag !!python/object/apply:os.system; write plain YAML",
    ]
    assert problems("version: !!int one\n") == [
        "rules.yaml:1:10: version: expected 1; got 'one'",
        "rules.yaml:1:10: version: 'one' does not fit its tag !!int",
    ]


def test_w5_a_key_must_be_a_plain_name():
    assert problems("version: 1\n? [a, b]\n: 1\n") == [
        "rules.yaml:2:3: a key must be a plain name, not a list or mapping"
    ]


def test_w5_control_characters_are_refused_with_their_position():
    assert problems("version: 1\nsuppliers: {conflict: \x07}\n") == [
        "rules.yaml:2:23: a character YAML does not allow (code 0x7)"
    ]


def test_w5_absurd_nesting_is_refused_cleanly():
    assert problems("version: " + "[" * 1000) == ["rules.yaml:1:1: the file is nested too deeply"]


def test_w5_a_file_that_is_not_utf8_is_refused_with_its_position(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"version: 1\nsuppliers:\n  conflict: caf\xe9\n")
    with pytest.raises(rules.RulesError) as caught:
        rules.load(path)
    assert str(caught.value) == f"{path}:3:16: the file is not UTF-8 text"


def test_w5_a_byte_order_mark_is_fine():
    assert rules.loads("\ufeffversion: 1\n").version == 1


def test_w5_every_value_keeps_its_position():
    document = read("version: 1\nsuppliers:\n  match: {keys: [name, currency]}\n", "r.yaml")
    assert str(document.source_map.problem(("suppliers", "match", "keys", 1), "x")) == "r.yaml:3:24: x"
    assert str(document.source_map.problem(("suppliers", "match"), "x", at_key=True)) == "r.yaml:3:3: x"
    # A path the file lacks is placed at the nearest one it has.
    assert str(document.source_map.problem(("suppliers", "fields", "name"), "x")) == "r.yaml:3:3: x"


def test_w5_the_strict_loader_leaves_pyyaml_defaults_alone_for_everyone_else():
    read("a: yes\n", "rules.yaml")
    assert yaml.safe_load("a: yes\n") == {"a": True}
