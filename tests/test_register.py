"""The household register import: check, report, confirm, scope, malformed files."""

from __future__ import annotations

import csv
import io
import random
import re
import uuid

import pytest
from openpyxl import Workbook, load_workbook

from web.accounts.logic import issue_link
from web.accounts.tables import RoleGrant
from web.audit.tables import AuditEntry
from web.core.forms import id_check_digit
from web.households.tables import Household, Person
from web.places.logic import create_place
from web.places.tables import Place

EN = {"Accept-Language": "en"}
HEADER = ["楼栋/村民组", "单元", "楼层", "房号", "户类型", "场所类型", "场所名称", "地址补充", "微网格",
          "姓名", "性别", "出生年份", "手机号", "身份证号", "与户主关系", "标签"]
FIELDS = ["building", "unit", "floor", "room", "kind", "premises_kind", "premises_name", "address", "microgrid",
          "name", "sex", "birth_year", "phone", "id_number", "relation", "tags"]
_rng = random.SystemRandom()


def new_id(birth_year: int = 1980, male: bool = True) -> str:
    """A valid ID number nobody else in the run has."""
    seq = _rng.randrange(0, 500) * 2 + (1 if male else 0)
    first17 = f"{_rng.randrange(110000, 660000)}{birth_year}{_rng.randint(1, 12):02d}{_rng.randint(1, 28):02d}{seq:03d}"
    return first17 + id_check_digit(first17)


def register(rows: list[dict], header: list[str] = HEADER, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(f, "") for f in FIELDS])
    return out.getvalue().encode(encoding)


def person(**values) -> dict:
    return {"building": "7", "unit": "1", "floor": "3", "room": "301", "kind": "住户", "sex": "男",
            "birth_year": "1980", "relation": "户主", **values}


async def _place_of(username: str) -> dict:
    row = await RoleGrant.select(RoleGrant.place).where(RoleGrant.user.username == username).first()
    return await Place.select().where(Place.id == row["place"]).first()


async def _new_place(parent: dict, kind: str, name: str | None = None) -> dict:
    place_id = await create_place(name or f"测试{uuid.uuid4().hex[:8]}", kind, parent)
    return await Place.select().where(Place.id == place_id).first()


async def _imports_audited(path: str) -> list[dict]:
    return await AuditEntry.select().where((AuditEntry.action == "import") & (AuditEntry.path == path))


async def _grid_elsewhere(community_path: str) -> dict:
    return await Place.select().where((Place.kind == "grid") & Place.path.not_like(f"{community_path}%")).first()


async def _under(path: str) -> tuple[list[dict], list[dict]]:
    households = await Household.select().where(Household.path.like(f"{path}%")).order_by(Household.id)
    persons = await Person.select().where(Person.path.like(f"{path}%")).order_by(Person.id)
    return households, persons


@pytest.fixture
def micro(call) -> dict:
    """A fresh micro-grid in the grid head's grid: each test imports into its own."""
    grid = call(_place_of, "gridhead")
    return call(_new_place, grid, "microgrid")


def upload(client, place_id: int, content: bytes, filename: str = "register.csv", **headers):
    return client.post(f"/places/{place_id}/import", files={"file": (filename, content, "application/octet-stream")},
                       headers={**EN, **headers})


def confirm_url(response) -> str:
    match = re.search(r'action="(/places/\d+/import/[A-Za-z0-9_-]+/confirm)"', response.text)
    assert match, response.text
    return match.group(1)


def test_a_good_csv_imports_households_and_persons(as_user, call, micro):
    client = as_user("gridhead")
    ids = [new_id(1975), new_id(1978, male=False), new_id(1941, male=False), new_id(1990)]
    rows = [
        person(name="吴建华", phone="13900001111", id_number=ids[0], tags="慢性病"),
        person(name="钱丽", sex="女", birth_year="1978", id_number=ids[1], relation="配偶"),
        person(room="302", name="孙秀英", sex="女", birth_year="1941", id_number=ids[2], tags="独居老人;残疾"),
        person(room="303", sex="", birth_year="", relation=""),  # a household with nobody in it yet
        {"building": "", "kind": "场所", "premises_kind": "工棚", "premises_name": "测试工地工棚", "address": "东关路9号",
         "name": "郑强", "sex": "M", "birth_year": "1990", "id_number": ids[3], "relation": "流动人员", "tags": "流动人员"},
    ]
    checked = upload(client, micro["id"], register(rows))
    assert checked.status_code == 200, checked.text
    assert "5 rows ready" in checked.text and "Refused rows" not in checked.text
    assert call(_under, micro["path"]) == ([], [])  # checking writes nothing

    done = client.post(confirm_url(checked), data={"mode": "all"}, headers=EN)
    assert done.status_code == 200, done.text
    assert "Register imported" in done.text and "4 new households" in done.text and "4 persons registered" in done.text

    households, persons = call(_under, micro["path"])
    assert len(households) == 4 and len(persons) == 4
    assert all(h["place"] == micro["id"] and h["door_code"] and h["sort_key"] for h in households)
    by_name = {p["name"]: p for p in persons}
    assert by_name["吴建华"]["household"] == by_name["钱丽"]["household"]
    assert by_name["钱丽"]["relation"] == "spouse" and by_name["钱丽"]["sex"] == "F"
    assert by_name["孙秀英"]["tags"] == "elderly_alone,disabled"
    shed = next(h for h in households if h["kind"] == "premises")
    assert shed["premises_kind"] == "shed" and by_name["郑强"]["household"] == shed["id"]

    page = client.get(f"/places/{micro['id']}", headers=EN)
    assert "Bldg 7 Unit 1 Room 301" in page.text and "Bldg 7 Unit 1 Room 303" in page.text
    assert "测试工地工棚" in page.text and "2 persons" in page.text

    [entry] = call(_imports_audited, micro["path"])
    assert "persons=4" in entry["detail"] and "households_new=4" in entry["detail"]


def test_the_xlsx_sample_round_trips(as_user, call, micro):
    client = as_user("gridhead")
    sample_csv = client.get("/register/sample.csv")
    assert sample_csv.status_code == 200 and sample_csv.content.startswith(b"\xef\xbb\xbf")
    assert sample_csv.content.decode("utf-8-sig").startswith("楼栋/村民组,单元,楼层,房号")
    sample = client.get("/register/sample.xlsx")
    assert sample.status_code == 200 and sample.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(sample.content)).active
    assert [c.value for c in sheet[1]][:4] == ["楼栋/村民组", "单元", "楼层", "房号"]

    checked = upload(client, micro["id"], sample.content, "household-register-sample.xlsx")
    assert checked.status_code == 200, checked.text
    assert "11 rows ready" in checked.text and "Refused rows" not in checked.text
    done = client.post(confirm_url(checked), data={"mode": "all"}, headers=EN)
    assert done.status_code == 200, done.text
    households, persons = call(_under, micro["path"])
    assert len(households) == 7 and len(persons) == 10
    assert {h["premises_kind"] for h in households if h["kind"] == "premises"} == {"shed", "shopfront"}
    assert sum(1 for p in persons if p["relation"] == "renter") == 2


def test_a_bad_row_imports_nothing_until_good_only_is_chosen(as_user, call, micro):
    client = as_user("gridhead")
    rows = [
        person(name="冯一", id_number=new_id()),
        person(name="冯二", phone="12345", sex="X", id_number=new_id()),
        person(room="402", name="冯三", relation="邻居", id_number=new_id()),
        person(room="403", name="冯四", id_number=new_id()),
    ]
    checked = upload(client, micro["id"], register(rows))
    assert checked.status_code == 200
    assert "2 rows ready" in checked.text and "2 refused" in checked.text
    assert "Row 3" in checked.text and "手机号: Enter a mobile number of 11 digits" in checked.text
    assert "性别: “X” is not one of" in checked.text and "与户主关系: “邻居” is not one of" in checked.text
    assert 'value="all"' not in checked.text and 'value="good_only"' in checked.text

    refused = client.post(confirm_url(checked), data={"mode": "all"}, headers=EN)
    assert refused.status_code == 422 and "Nothing was imported" in refused.text
    assert call(_under, micro["path"]) == ([], [])

    done = client.post(confirm_url(checked), data={"mode": "good_only"}, headers=EN)
    assert done.status_code == 200, done.text
    assert "2 refused rows were left out" in done.text
    households, persons = call(_under, micro["path"])
    assert sorted(p["name"] for p in persons) == ["冯一", "冯四"] and len(households) == 2


async def _someone_outside(path: str) -> dict:
    return await Person.select(Person.id_number, Person.name, Person.household.door_code).where(
        Person.path.not_like(f"{path}%") & (Person.id_number != "")).first()


def test_a_registered_or_repeated_id_number_is_refused(as_user, call, micro):
    client = as_user("gridhead")
    known = new_id()
    first = upload(client, micro["id"], register([person(name="褚一", id_number=known)]))
    assert client.post(confirm_url(first), data={"mode": "all"}, headers=EN).status_code == 200

    grid = call(_place_of, "gridhead")
    outsider = call(_someone_outside, grid["path"])
    twice = new_id()
    rows = [
        person(room="501", name="褚二", id_number=known),
        person(room="502", name="褚三", id_number=twice),
        person(room="503", name="褚四", id_number=twice.lower()),
        person(room="504", name="褚五", id_number=outsider["id_number"]),
    ]
    checked = upload(client, micro["id"], register(rows))
    assert checked.status_code == 200
    assert "This ID number is already registered at Bldg 7 Unit 1 Room 301" in checked.text
    assert "This ID number is already on row 3 of this file." in checked.text
    assert "This ID number is already registered outside your area." in checked.text
    assert outsider["name"] not in checked.text and outsider["household.door_code"] not in checked.text
    assert "1 row ready" in checked.text and "3 refused" in checked.text


def test_an_address_already_registered_gets_the_new_persons(as_user, call, micro):
    client = as_user("gridhead")
    first = upload(client, micro["id"], register([person(room="601", name="卫一", id_number=new_id())]))
    client.post(confirm_url(first), data={"mode": "all"}, headers=EN)
    second = upload(client, micro["id"], register([person(room=" 601", name="卫二", id_number=new_id(), relation="子女")]))
    assert "1 household already registered gets new persons" in second.text
    client.post(confirm_url(second), data={"mode": "all"}, headers=EN)
    households, persons = call(_under, micro["path"])
    assert len(households) == 1 and len(persons) == 2


def test_english_headers_and_the_microgrid_column(as_user, call):
    client = as_user("secretary")
    community = call(_place_of, "secretary")
    grid = call(_new_place, community, "grid")
    one = call(_new_place, grid, "microgrid", f"{grid['name']}·1栋")
    header = ["Building", "Unit", "Floor", "Room", "Kind", "Premises kind", "Premises name", "Address", "Microgrid",
              "Name", "Sex", "Birth year", "Phone", "ID number", "Relation", "Tags", "Remarks"]
    rows = [
        person(building="1", name="蒋一", microgrid="1栋", sex="F", relation="head", tags="pregnant",
               id_number=new_id(male=False)),
        person(building="1", room="302", name="蒋二", microgrid=one["name"], id_number=new_id()),
        person(building="2", name="蒋三", id_number=new_id()),
        person(building="9", name="蒋四", microgrid="9栋", id_number=new_id()),
    ]
    checked = upload(client, grid["id"], register(rows, header=header))
    assert checked.status_code == 200, checked.text
    assert "Columns not imported: Remarks" in checked.text
    assert "Microgrid: There is no micro-grid called “9栋”" in checked.text
    done = client.post(confirm_url(checked), data={"mode": "good_only"}, headers=EN)
    assert done.status_code == 200
    households, persons = call(_under, grid["path"])
    place_of = {p["name"]: next(h["place"] for h in households if h["id"] == p["household"]) for p in persons}
    assert place_of == {"蒋一": one["id"], "蒋二": one["id"], "蒋三": grid["id"]}
    assert next(p for p in persons if p["name"] == "蒋一")["tags"] == "pregnant"


def test_an_id_number_mangled_by_excel_is_explained(as_user, micro):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["7", "1", "3", "301", "住户", None, None, None, None, "沈一", "男", 1980, 13900002222,
                  float(new_id()[:17] + "0"), "户主", None])
    data = io.BytesIO()
    book.save(data)
    checked = upload(as_user("gridhead"), micro["id"], data.getvalue(), "register.xlsx")
    assert checked.status_code == 200
    assert "stored this ID number as a number" in checked.text and "手机号" not in checked.text


def test_a_gb18030_csv_reads(as_user, micro):
    checked = upload(as_user("gridhead"), micro["id"], register([person(name="韩梅梅", id_number=new_id())],
                                                                 encoding="gb18030"))
    assert checked.status_code == 200 and "韩梅梅" in checked.text and "1 row ready" in checked.text


def _many_rows() -> bytes:
    return register([person(room=str(100 + n), name=f"人{n}") for n in range(5001)])


@pytest.mark.parametrize("filename, content, message", [
    ("register.csv", b"", "This file is empty."),
    ("register.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "Upload the register as a CSV or XLSX file."),
    ("register.xlsx", b"this is not a spreadsheet", "This spreadsheet could not be opened."),
    ("register.csv", b"\x00\x01\x02\x03binary", "This file could not be read as text."),
    ("register.csv", "姓名,手机号\n王一,13900000000\n".encode(), "The file has no column 楼栋/村民组."),
    ("register.csv", "备注\n王一\n".encode(), "The file has no column 姓名、楼栋/村民组."),
    ("register.csv", "姓名,楼栋/村民组\n".encode(), "The file has a header row but no rows below it."),
    ("register.csv", b"x" * (5 * 1024 * 1024 + 1), "The file is larger than 5 MB."),
    ("register.csv", None, "The file has more than 5,000 rows."),
])
def test_a_malformed_file_gets_a_message_beside_the_field(as_user, micro, filename, content, message):
    client = as_user("gridhead")
    response = upload(client, micro["id"], _many_rows() if content is None else content, filename)
    assert response.status_code == 422, response.text
    assert message in response.text and 'id="e-file"' in response.text
    partial = upload(client, micro["id"], b"", "register.csv", **{"HX-Request": "true"})
    assert partial.status_code == 422 and "<html" not in partial.text and 'id="import"' in partial.text


def test_no_file_chosen(as_user, micro):
    response = as_user("gridhead").post(f"/places/{micro['id']}/import", data={"x": "1"}, headers=EN)
    assert response.status_code == 422 and "Choose a CSV or XLSX file to upload." in response.text


def test_the_import_page_works_as_plain_html_and_as_a_partial(as_user, micro):
    client = as_user("gridhead")
    page = client.get(f"/places/{micro['id']}/import", headers=EN)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text
    assert 'href="/register/sample.xlsx"' in page.text and "style=" not in page.text and "<script>" not in page.text
    grid_page = client.get(f"/places/{micro['id']}", headers=EN)
    assert f'href="/places/{micro["id"]}/import"' in grid_page.text
    checked = upload(client, micro["id"], register([person(name="杨一", id_number=new_id())]), **{"HX-Request": "true"})
    assert checked.status_code == 200 and "<html" not in checked.text and "Import 1 row" in checked.text


def test_a_repeated_confirm_imports_once(as_user, call, micro):
    client = as_user("gridhead")
    checked = upload(client, micro["id"], register([person(name="秦一", id_number=new_id()),
                                                    person(name="秦二", id_number=new_id())]))
    url = confirm_url(checked)
    assert client.post(url, data={"mode": "all"}, headers=EN).status_code == 200
    again = client.post(url, data={"mode": "all"}, headers={**EN, "HX-Request": "true"})
    assert again.status_code == 200 and "already imported" in again.text and "<html" not in again.text
    again = client.post(url, data={"mode": "good_only"}, headers=EN)
    assert again.status_code == 200 and "already imported" in again.text
    households, persons = call(_under, micro["path"])
    assert len(households) == 1 and len(persons) == 2
    assert len(call(_imports_audited, micro["path"])) == 1


async def _resident_link(path: str) -> str:
    """A fresh household link in `path`: other tests may revoke the demo one."""
    household = await Household.select(Household.id).where(Household.path.like(f"{path}%")).first()
    return await issue_link(household["id"], None)


def test_out_of_scope_places_and_other_roles_get_404(as_user, call, client):
    own_grid = call(_place_of, "gridhead")
    community = call(_place_of, "secretary")
    other_grid = call(_grid_elsewhere, community["path"])
    body = register([person(name="许一", id_number=new_id())])

    gridhead = as_user("gridhead")
    assert gridhead.get(f"/places/{other_grid['id']}/import").status_code == 404
    assert upload(gridhead, other_grid["id"], body).status_code == 404
    checked = upload(gridhead, own_grid["id"], body)
    url = confirm_url(checked)
    assert gridhead.post(url.replace(f"/places/{own_grid['id']}/", f"/places/{other_grid['id']}/"),
                         data={"mode": "all"}).status_code == 404
    assert gridhead.post(re.sub(r"/import/[^/]+/", "/import/no-such-upload-0123456789/", url),
                         data={"mode": "all"}).status_code == 404

    # Someone else's upload is not theirs to confirm, even in their own area.
    assert as_user("secretary").post(url, data={"mode": "all"}).status_code == 404
    # A community is no place to import households into.
    assert as_user("secretary").get(f"/places/{community['id']}/import").status_code == 404

    for username in ("volunteer", "partyleader", "buildinghead"):
        user = as_user(username)
        assert user.get(f"/places/{own_grid['id']}/import").status_code == 404, username
        assert upload(user, own_grid["id"], body).status_code == 404, username
        assert user.post(url, data={"mode": "all"}).status_code == 404, username

    client.cookies.clear()
    client.get(f"/h/{call(_resident_link, own_grid['path'])}", follow_redirects=False)
    assert client.get("/my").status_code == 200  # signed in as the resident
    assert client.get(f"/places/{own_grid['id']}/import").status_code == 404
    assert upload(client, own_grid["id"], body).status_code == 404
    assert client.post(url, data={"mode": "all"}).status_code == 404

    client.cookies.clear()
    assert client.post(url, data={"mode": "all"}).status_code == 401
    assert not any(p["name"] == "许一" for p in call(_under, own_grid["path"])[1])


def test_an_upload_waits_in_the_database_and_two_confirms_at_once_import_it_once(world, as_user, call, micro):
    """Any instance may confirm what another checked: nothing of it is on this one's disk,
    and of two confirms at once (two instances, a replay) only one imports."""
    import asyncio

    from web.register import logic

    client = as_user("gridhead")
    checked = upload(client, micro["id"], register([person(room="401", name="冯测试", id_number=new_id(1980))]))
    assert checked.status_code == 200, checked.text
    token = confirm_url(checked).rsplit("/", 2)[-2]
    assert not (world["settings"].data_dir / "uploads").exists()
    assert call(logic.load_upload, token)["state"] == "pending"

    async def both():
        return await asyncio.gather(logic.claim(token), logic.claim(token))

    assert sorted(call(both)) == [False, True]
    call(logic.release, token)
    done = client.post(confirm_url(checked), data={"mode": "all"}, headers=EN)
    assert done.status_code == 200 and "Register imported" in done.text
    again = client.post(confirm_url(checked), data={"mode": "all"}, headers=EN)
    assert again.status_code == 200 and "already" in again.text.lower()
    assert call(logic.upload_data, token) is None, "the file itself is dropped once imported"
    assert call(logic.load_upload, token)["done"]["persons"] == 1
