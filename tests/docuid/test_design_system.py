"""The design system's class contract (static/css/docuid.css): every class the pages share is styled."""

import re
from pathlib import Path

import pytest

STATIC_CSS = Path(__file__).resolve().parents[2] / "static" / "css"
CSS = (STATIC_CSS / "docuid.css").read_text()
CONTRACT = [
    "container", "card", "narrow", "muted", "stack", "actions", "button", "button-secondary", "button-danger",
    "button-block", "message", "message-error", "message-success", "message-warning", "message-info", "errorlist",
    "form-errors", "stack-table", "table-scroll", "empty-state", "badge", "badge-ok", "badge-warn", "badge-bad",
    "badge-neutral", "copy-field", "copy-status", "confirm-dialog", "filetype", "visually-hidden",
]  # fmt: skip
FILETYPES = ["pdf", "doc", "sheet", "slide", "image", "text", "archive", "other"]


@pytest.mark.parametrize("name", CONTRACT)
def test_every_contract_class_is_styled(name):
    assert re.search(rf"\.{re.escape(name)}(?![\w-])[^{{]*{{", CSS), f".{name} has no rule"


@pytest.mark.parametrize("kind", FILETYPES)
def test_every_file_type_has_its_icon_colour(kind):
    assert f'.filetype[data-type="{kind}"]' in CSS


def test_stacked_cards_show_each_cells_label_under_40rem():
    narrow = CSS[CSS.index("/* --- Tables") : CSS.index("/* --- Empty states")]
    assert "@media (max-width: 40rem)" in narrow
    assert ".stack-table td::before { content: attr(data-label);" in narrow


def test_nothing_lets_the_browser_split_a_word_in_a_button_or_a_table_cell():
    # word-break: break-all / break-word and overflow-wrap: anywhere shrink a cell or a button's minimum
    # width below its longest word, which is what split "Activ e" and "99 b ytes".
    sheets = CSS + (STATIC_CSS / "documents.css").read_text()
    for rule in re.findall(r"([^{}]+)\{([^}]*)\}", sheets):
        selector, body = rule
        if re.search(r"\b(td|th|button|\.button|\.actions|\.badge)\b", selector):
            assert not re.search(r"word-break:\s*break-(all|word)|overflow-wrap:\s*anywhere", body), selector
