"""The offline engine's server side: the sync page, the manifest, queued batches, the
idempotency records, claims, conflicts, and the periodic chores' claims."""


from web.core.domain import Chore, Domain, NavEntry
from web.core.i18n import _
from web.sync import logic, routes
from web.sync.tables import Conflict, IdempotencyRecord

domain = Domain(
    name="sync",
    order=5,
    routes=routes.routes,
    piccolo_app="web.sync.piccolo_app",
    nav=[NavEntry("/sync", lambda: _("Sync"), order=80)],
    fixed_paths=[IdempotencyRecord, Conflict],  # a URL; the subject's path when the edit came
    chores=[Chore("shed_answers", logic.SHED_EVERY, logic.shed_old_answers)],
)
