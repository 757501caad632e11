"""Register import: households and persons from CSV or XLSX, with a row-by-row report."""

from web.core.domain import Domain
from web.register import routes

domain = Domain(
    name="register",
    order=40,
    routes=routes.routes,
    piccolo_app="web.register.piccolo_app",
    abilities={"import_register": {"commander", "secretary", "grid_head"}},
)
