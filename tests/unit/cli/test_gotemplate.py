"""The Go-template subset behind --format."""
from __future__ import annotations

import pytest

from compose.cli.gotemplate import Row, TemplateError, format_rows, tabwrite

ROWS = [Row(Name="p-web-1", Service="web", Labels={"tier": "front"}, Number=1,
            Label=lambda k: {"tier": "front"}.get(k, "")),
        Row(Name="p-db-1", Service="db", Labels={}, Number=2, Label=lambda k: "")]
HEADERS = {"Name": "NAME", "Service": "SERVICE"}


def test_plain_template_one_line_per_row() -> None:
    assert format_rows("{{.Name}}", ROWS, HEADERS) == "p-web-1\np-db-1\n"


def test_table_prefix_adds_header_and_aligns_like_tabwriter() -> None:
    out = format_rows("table {{.Name}}\\t{{.Service}}", ROWS, HEADERS)
    assert out == "NAME      SERVICE\np-web-1   web\np-db-1    db\n"


def test_header_of_label_call_is_the_upper_cased_key() -> None:
    out = format_rows('table {{.Service}}\t{{.Label "tier"}}', ROWS, HEADERS)
    assert out.splitlines() == ["SERVICE   TIER", "web       front", "db        "]


def test_json_and_functions() -> None:
    assert format_rows("{{json .Labels}}", ROWS[:1], {}) == '{"tier":"front"}\n'
    assert format_rows("{{json .}}", ROWS[1:], {}) == (
        '{"Name":"p-db-1","Service":"db","Labels":{},"Number":2}\n')
    assert format_rows('{{.Name | upper}} {{lower "X"}} {{join (split .Name "-") "+"}}',
                       ROWS[:1], {}) == "P-WEB-1 x p+web+1\n"
    assert format_rows('{{index .Labels "tier"}} {{.Labels.none}} {{truncate .Name 3}}',
                       ROWS[:1], {}) == "front <no value> p-w\n"
    assert format_rows("{{- .Service -}} !", ROWS[:1], {}) == "web!\n"


@pytest.mark.parametrize("fmt,word", [
    ("{{if .Name}}x{{end}}", "'if'"),
    ("{{range .Labels}}{{end}}", "'range'"),
    ("{{$x := .Name}}", "'$x'"),
    ('{{printf "%s" .Name}}', "'printf'"),
    ("{{.Nope}}", "Nope"),
    ("{{.Name", "unclosed"),
    ("{{frobnicate .Name}}", "'frobnicate'"),
])
def test_outside_the_subset_is_an_error_naming_it(fmt: str, word: str) -> None:
    with pytest.raises(TemplateError, match=word.replace("$", r"\$")):
        format_rows(fmt, ROWS, HEADERS)


def test_tabwrite_min_width_and_padding() -> None:
    assert tabwrite(["a\tb", "c"]) == "a         b\nc\n"  # min width 10
    assert tabwrite(["a\tb", "longer-than-ten\tc"]) == (
        "a" + " " * 17 + "b\nlonger-than-ten   c\n")  # widest cell + 3
