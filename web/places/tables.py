from piccolo.columns import ForeignKey, Varchar
from piccolo.table import Table

from web.db import Keyed

# sub-district → community → grid → micro-grid (docs/architecture.md, "words")
PLACE_KINDS = ("subdistrict", "community", "grid", "microgrid")
CHILD_KIND = {"subdistrict": "community", "community": "grid", "grid": "microgrid"}


class Place(Keyed, Table):
    name = Varchar(length=100)
    kind = Varchar(length=16)
    parent: ForeignKey = ForeignKey("self", null=True)
    # Materialized path of ids, e.g. "/1/5/23/": everything under a place is one
    # indexed prefix query (`path LIKE '/1/5/%'`).
    path = Varchar(length=200, index=True, default="")
    # "urban" communities are organised by building, "rural" ones by villager group.
    area = Varchar(length=8, default="urban")
