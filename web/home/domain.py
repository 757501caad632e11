"""Home: every staff member's first page, made of the domains' cards."""

from web.core.domain import Domain, NavEntry
from web.core.i18n import _
from web.home import routes

domain = Domain(name="home", routes=routes.routes, nav=[NavEntry("/", lambda: _("Home"), order=0)])
