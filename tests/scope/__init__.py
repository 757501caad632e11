"""The scope matrix, one module per domain (tests/test_scope_matrix.py runs them all).

A domain's module holds `ROUTES`: every route of the domain, what fills its path, which
roles succeed inside their scope and what a success changes (see tests/scope/common.py
for the words). Optionally `TABLES` (its tables whose rows a cell may add, children
first) and `COUNTS` (alias -> `SELECT count(*) …`, for its routes' effects). A new
domain adds one module here; `test_every_route_is_described` names any route left out.
"""

import importlib
import pkgutil
from types import ModuleType


def domain_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
            if info.name != "common"]
