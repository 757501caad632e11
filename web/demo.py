"""The demo sub-district: a small default and the full size in the README (Speed).

Deterministic (seeded), plausible Chinese names and addresses. Demo accounts exist
only here; a real deployment starts empty (see `python -m web create-commander`).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from web import db
from web.accounts.auth import hash_password, new_token
from web.accounts.logic import issue_link
from web.accounts.tables import Organisation, RoleGrant, User
from web.core.forms import id_check_digit
from web.core.timeutil import now
from web.households.logic import new_door_code, sort_key
from web.households.tables import Household, Person
from web.places.logic import child_path
from web.places.tables import Place

DEMO_PASSWORD = "gridline-demo"
DEMO_USERS = (  # username, display name, role, where
    ("commander", "周指挥", "commander", "subdistrict"),
    ("secretary", "王书记", "secretary", "community"),
    ("gridhead", "李网格长", "grid_head", "grid"),
    ("partyleader", "陈党小组长", "party_leader", "grid"),
    ("buildinghead", "张楼栋长", "building_head", "microgrid"),
    ("volunteer", "刘志愿者", "volunteer", "community"),
)
RESIDENT_LINK_FILE = "demo-resident-link.txt"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红梅鹏飞建国志文斌晨浩宇欣怡佳琪子涵雨轩梓萱一诺浩然俊杰思远雅婷德福永清淑珍秀英凤兰"
URBAN = ["四平社区", "文昌社区", "锦华社区", "梅岭社区", "东关社区", "广陵社区", "汶河社区", "双桥社区", "荷花池社区",
         "渡江社区", "石塔社区", "百祥社区", "甘泉社区", "湾头社区", "念四社区", "扬子社区", "曙光社区", "望月社区",
         "北柳巷社区", "琼花社区", "史可法社区", "彩衣街社区"]
RURAL = ["红星村", "联合村", "新农村", "五里村", "沿湖村", "金湾村", "桑园村", "花园村", "长塘村", "东华村", "南庄村"]
ORGANISATIONS = ["麦田义工", "彩虹义工", "牵手俱乐部", "退役军人服务社"]
NUMERALS = "一二三四五六七八九十"
TAG_WEIGHTS = (("elderly_alone", 0.04), ("chronic", 0.06), ("disabled", 0.015), ("pregnant", 0.01), ("bedridden", 0.005))


@dataclass(frozen=True)
class Size:
    communities: int
    grids: int
    households: int
    organisations: int
    volunteers: int


SIZES = {
    "small": Size(communities=3, grids=12, households=600, organisations=2, volunteers=12),
    "full": Size(communities=33, grids=500, households=50_000, organisations=4, volunteers=400),
}
BATCH = 1000


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _id_number(rng: random.Random, birth_year: int, sex: str) -> str:
    seq = rng.randrange(0, 50) * 2 + (1 if sex == "M" else 0)  # odd for men (GB 11643)
    first17 = f"3210{rng.randrange(2, 99):02d}{birth_year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randrange(1, 10)}{seq:02d}"
    return first17 + id_check_digit(first17)


def _grid_sizes(rng: random.Random, size: Size) -> list[int]:
    """Households per grid: varied, summing to the target, the first grid exactly 300
    at full size (the grid the list-page benchmark reads)."""
    if size.grids == 1:
        return [size.households]
    weights = [rng.uniform(0.4, 1.6) for _ in range(size.grids)]
    total = sum(weights)
    sizes = [max(20, round(size.households * w / total)) for w in weights]
    if size.households >= 300 * 10:
        sizes[0] = 300
    sizes[-1] += size.households - sum(sizes)
    return sizes


async def _insert_places(rows: list[dict]) -> list[dict]:
    """Insert places one level at a time; returns them with ids and paths."""
    out = []
    async with db.write():
        for row in rows:
            result = await Place.insert(Place(name=row["name"], kind=row["kind"], parent=row.get("parent"), path="",
                                              area=row.get("area", "urban"))).returning(Place.id)
            place_id = result[0]["id"]
            path = child_path(row.get("parent_path", "/"), place_id)
            await Place.update({Place.path: path}).where(Place.id == place_id)
            out.append({**row, "id": place_id, "path": path})
    return out


async def generate(size_name: str = "small", data_dir: Path | None = None, seed: int = 329) -> dict:
    """Fill an empty database with the demo sub-district; returns counts and timings."""
    rng = random.Random(seed)
    size = SIZES[size_name]
    started = time.perf_counter()
    [subdistrict] = await _insert_places([{"name": "四平街道", "kind": "subdistrict"}])

    rural_count = max(1, size.communities // 3)
    names = URBAN[: size.communities - rural_count] + RURAL[:rural_count]
    communities = await _insert_places([
        {"name": n, "kind": "community", "parent": subdistrict["id"], "parent_path": subdistrict["path"],
         "area": "rural" if n.endswith("村") else "urban"} for n in names
    ])

    grid_rows = []
    for i in range(size.grids):
        community = communities[i % len(communities)]
        number = i // len(communities) + 1
        grid_rows.append({"name": f"{community['name']}第{number}网格", "kind": "grid", "parent": community["id"],
                          "parent_path": community["path"], "area": community["area"]})
    grids = await _insert_places(grid_rows)
    grids.sort(key=lambda g: g["id"])

    # Households per grid, split into micro-grids per building (town) or villager group (village).
    household_sizes = _grid_sizes(rng, size)
    micro_rows, plans = [], []
    for grid, count in zip(grids, household_sizes):
        per_building = 24 if grid["area"] == "urban" else 30
        buildings = max(1, -(-count // per_building))
        for b in range(1, buildings + 1):
            label = str(b) if grid["area"] == "urban" else f"{NUMERALS[(b - 1) % 10]}组"
            title = f"{label}栋" if grid["area"] == "urban" else label
            micro_rows.append({"name": f"{grid['name']}·{title}", "kind": "microgrid", "parent": grid["id"],
                               "parent_path": grid["path"], "area": grid["area"], "label": label})
        plans.append((grid, count, buildings))
    micros = await _insert_places(micro_rows)
    micros_by_grid: dict[int, list[dict]] = {}
    for micro in micros:
        micros_by_grid.setdefault(micro["parent"], []).append(micro)

    households: list[dict] = []
    for grid, count, buildings in plans:
        its_micros = micros_by_grid[grid["id"]]
        premises = min(2, count // 20)
        in_building: dict[int, int] = {}
        for n in range(count):
            micro = its_micros[min(n * buildings // count, len(its_micros) - 1)]
            k = in_building[micro["id"]] = in_building.get(micro["id"], -1) + 1  # k-th home in this building
            if n >= count - premises:
                pk = rng.choice(("shed", "shopfront"))
                pname = f"{rng.choice(SURNAMES)}记{'五金店' if pk == 'shopfront' else '工地工棚'}"
                h = dict(kind="premises", building=micro["label"], unit="", floor=None, room="", premises_kind=pk,
                         premises_name=pname, address=f"{rng.randint(1, 199)}号")
            elif grid["area"] == "urban":
                floor = 1 + (k % 12) // 2
                h = dict(kind="dwelling", building=micro["label"], unit=str(1 + (k % 24) // 12), floor=floor,
                         room=f"{floor}{1 + k % 2:02d}", premises_kind="", premises_name="", address="")
            else:
                h = dict(kind="dwelling", building=micro["label"], unit="", floor=None, room=str(k + 1),
                         premises_kind="", premises_name="", address="")
            h.update(place=micro["id"], path=micro["path"], door_code=new_door_code(),
                     sort_key=sort_key(h["building"], h["unit"], h["floor"], h["room"]))
            households.append(h)

    created = now()
    for start in range(0, len(households), BATCH):
        chunk = households[start : start + BATCH]
        async with db.write():
            await Household.insert(*[Household(**h, note="", version=1, created_at=created) for h in chunk])
            codes = await Household.select(Household.id, Household.door_code).where(
                Household.door_code.is_in([h["door_code"] for h in chunk]))
        ids = {row["door_code"]: row["id"] for row in codes}
        for h in chunk:
            h["id"] = ids[h["door_code"]]
    household_seconds = time.perf_counter() - started

    this_year = created.year
    persons: list[dict] = []
    for h in households:
        if h["kind"] == "dwelling" and rng.random() < 0.01:
            continue  # a few dwellings with nobody registered: the grid head's to-do list shows them
        if h["kind"] == "premises":
            count = rng.choice((1, 2, 3))
            relations = ["transient"] * count
        else:
            count = rng.choices((1, 2, 3, 4, 5), weights=(10, 22, 30, 25, 13))[0]
            relations = ["head", "spouse", "child", "child", "parent"][:count]
            if rng.random() < 0.06:
                relations = ["renter"] * count
        surname = rng.choice(SURNAMES)
        for rel in relations:
            age = {"head": rng.randint(30, 85), "spouse": rng.randint(28, 82), "child": rng.randint(1, 40),
                   "parent": rng.randint(60, 95)}.get(rel, rng.randint(18, 60))
            sex = rng.choice("MF")
            birth_year = this_year - age
            tags = [t for t, p in TAG_WEIGHTS if rng.random() < p]
            if "elderly_alone" in tags and (count > 1 or age < 65):
                tags.remove("elderly_alone")
            if rel in ("renter", "transient"):
                tags.append(rel)
            name = (surname + _name(rng)[1:]) if rel in ("head", "child") else _name(rng)
            persons.append(dict(
                household=h["id"], path=h["path"], name=name, sex=sex, birth_year=birth_year,
                phone=_phone(rng) if age >= 14 and rng.random() < 0.93 else "",
                id_number=_id_number(rng, birth_year, sex) if rng.random() < 0.95 else "",
                relation=rel, tags=",".join(tags), note="", version=1, created_at=created,
            ))
    for start in range(0, len(persons), BATCH):
        async with db.write():
            await Person.insert(*[Person(**p) for p in persons[start : start + BATCH]])

    # Accounts: the six demo users, and named heads for most other grids.
    demo_hash = hash_password(DEMO_PASSWORD)
    other_hash = hash_password(new_token())  # nobody knows it: these exist to be named, not to sign in
    orgs = []
    async with db.write():
        for name in ORGANISATIONS[: size.organisations]:
            rows = await Organisation.insert(Organisation(name=name, place=subdistrict["id"])).returning(Organisation.id)
            orgs.append(rows[0]["id"])
    first_community, first_grid = communities[0], grids[0]
    first_micro = micros_by_grid[first_grid["id"]][0]
    where = {"subdistrict": subdistrict, "community": first_community, "grid": first_grid, "microgrid": first_micro}
    users, grants = [], []
    for username, display, role, level in DEMO_USERS:
        users.append(dict(username=username, display_name=display, password_hash=demo_hash, phone=_phone(rng),
                          organisation=orgs[0] if role == "volunteer" else None))
        grants.append((username, role, where[level]["id"]))
    for number, grid in enumerate(grids[1:], start=2):
        for role in ("grid_head", "party_leader", "building_head"):
            if number % 7 == 0 and role == "party_leader":
                continue  # a few grids still lack a head: the secretary's to-do list shows them
            username = f"{role.replace('_', '')}{number}"
            users.append(dict(username=username, display_name=_name(rng), password_hash=other_hash,
                              phone=_phone(rng), organisation=None))
            target = grid if role != "building_head" else micros_by_grid[grid["id"]][0]
            grants.append((username, role, target["id"]))
    for v in range(size.volunteers):
        username = f"volunteer{v + 2}"
        community = communities[v % len(communities)]
        users.append(dict(username=username, display_name=_name(rng), password_hash=other_hash, phone=_phone(rng),
                          organisation=orgs[v % len(orgs)]))
        grants.append((username, "volunteer", community["id"]))
    for start in range(0, len(users), BATCH):
        async with db.write():
            await User.insert(*[User(**u, active=True, created_at=created)  # type: ignore[arg-type]  # Piccolo takes column names as keywords
                                for u in users[start : start + BATCH]])
    ids = {r["username"]: r["id"] for r in await User.select(User.id, User.username)}
    for start in range(0, len(grants), BATCH):
        async with db.write():
            await RoleGrant.insert(*[RoleGrant(user=ids[u], role=r, place=p, created_at=created)
                                     for u, r, p in grants[start : start + BATCH]])

    # One resident household link, printed by `make run`.
    resident_household = next(p["household"] for p in persons if p["path"] == first_micro["path"] and p["relation"] == "head")
    token = await issue_link(resident_household, ids["gridhead"])
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / RESIDENT_LINK_FILE).write_text(token + "\n", encoding="utf-8")
    return {
        "communities": len(communities), "grids": len(grids), "microgrids": len(micros),
        "households": len(households), "persons": len(persons), "users": len(users),
        "seconds": round(time.perf_counter() - started, 1), "household_seconds": round(household_seconds, 1),
        "resident_token": token,
    }
