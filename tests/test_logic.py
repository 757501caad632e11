"""Fast unit tests of plain logic: no database, no HTTP."""

from __future__ import annotations

import pytest

from web.core import i18n
from web.core.display import household_address, mask_id, mask_phone
from web.core.edge import same_origin
from web.core.forms import id_check_digit, valid_id_number, valid_phone
from web.core.scope import Grant, Scope
from web.households.logic import DOOR_ALPHABET, new_door_code, sort_key
from web.places.logic import Tally, child_path, rollup
from web.accounts.auth import Principal


def test_masks_keep_only_the_ends():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id("32100219800101123X") == "321***********123X"
    assert mask_phone("123") == "***"


def test_id_numbers_are_checked_by_their_check_digit():
    first17 = "32100219800101123"
    good = first17 + id_check_digit(first17)
    assert valid_id_number(good)
    wrong = first17 + ("0" if good[-1] != "0" else "1")
    assert not valid_id_number(wrong)
    assert not valid_id_number("12345")


@pytest.mark.parametrize("phone,ok", [("13812345678", True), ("0514-87654321", True), ("12812345678", False), ("138123", False)])
def test_phone_numbers(phone, ok):
    assert valid_phone(phone) is ok


def test_walking_order_sorts_numbers_as_numbers():
    rooms = [("2", "1", 3, "302"), ("10", "1", 1, "101"), ("2", "1", 12, "1201"), ("2", "2", 1, "101")]
    ordered = sorted(rooms, key=lambda r: sort_key(*r))
    assert ordered == [("2", "1", 3, "302"), ("2", "1", 12, "1201"), ("2", "2", 1, "101"), ("10", "1", 1, "101")]


def test_door_codes_avoid_lookalike_characters():
    code = new_door_code()
    assert len(code) == 8 and set(code) <= set(DOOR_ALPHABET)
    assert not set("01OIL") & set(DOOR_ALPHABET)


def test_paths_and_rollup():
    assert child_path("/", 1) == "/1/"
    assert child_path("/1/", 5) == "/1/5/"
    tallies = {"/1/5/": Tally(3, 9), "/1/5/7/": Tally(2, 4), "/1/50/": Tally(100, 300)}
    # "/1/50/" must not count as under "/1/5/"
    assert rollup(tallies, "/1/5/") == Tally(5, 13)


def test_scope_covers_subtrees_only():
    scope = Scope(paths=("/1/5/",))
    assert scope.covers_path("/1/5/") and scope.covers_path("/1/5/9/")
    assert not scope.covers_path("/1/50/") and not scope.covers_path("/1/")


def test_principal_abilities_follow_role_and_place():
    head = Principal(session_id=1, user_id=1, grants=(Grant("grid_head", 5, "/1/2/5/", "G", "grid"),))
    assert head.can("reveal", "/1/2/5/9/")
    assert not head.can("reveal", "/1/2/6/")
    assert not head.can("manage_accounts")
    assert head.scope.paths == ("/1/2/5/",)
    volunteer = Principal(session_id=2, user_id=2, grants=(Grant("volunteer", 2, "/1/2/", "C", "community"),))
    assert volunteer.scope.paths == ()  # volunteers see only what assignments grant
    resident = Principal(session_id=3, household_id=42, household_path="/1/2/5/9/")
    assert resident.scope.household_ids == frozenset({42}) and resident.main_role == "resident"


def test_language_negotiation():
    assert i18n.negotiate(None, None) == "zh_CN"
    assert i18n.negotiate(None, "en-US,en;q=0.9") == "en"
    assert i18n.negotiate(None, "fr-FR, zh-TW;q=0.8") == "zh_CN"
    assert i18n.negotiate("en", "zh-CN") == "en"


def test_address_in_each_language():
    h = {"kind": "dwelling", "building": "3", "unit": "2", "room": "302", "address": ""}
    i18n.set_locale("zh_CN")
    assert household_address(h) == "3栋 2单元 302室"
    i18n.set_locale("en")
    assert household_address(h) == "Bldg 3 Unit 2 Room 302"
    shop = {"kind": "premises", "premises_name": "王记五金店", "address": "18号"}
    assert household_address(shop) == "王记五金店 · 18号"
    i18n.set_locale("zh_CN")


@pytest.mark.parametrize(
    "headers,ok",
    [
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),
        ({"sec-fetch-site": "cross-site", "origin": "http://a", "host": "a"}, False),
        ({"origin": "http://app.local:8000", "host": "app.local:8000"}, True),
        ({"origin": "http://evil", "host": "app.local:8000"}, False),
        ({}, False),
    ],
)
def test_csrf_same_origin_check(headers, ok):
    assert same_origin(headers) is ok


def test_exported_text_that_looks_like_a_formula_stays_text():
    import io

    from openpyxl import load_workbook

    from web.core import sheets

    rows = [["Place", "Address"], ["一网格", "=HYPERLINK(\"http://evil\")"], ["二网格", "+86 139"]]
    assert sheets.csv_bytes(rows).decode("utf-8-sig").splitlines()[1] == '一网格,"\'=HYPERLINK(""http://evil"")"'
    book = load_workbook(io.BytesIO(sheets.xlsx_bytes(rows, "missing")))
    cell = book.active["B2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://evil")'
