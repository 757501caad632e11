"""The audit log: who viewed or exported personal data, and who changed what."""

from web.audit import routes
from web.audit.tables import AuditEntry
from web.core.domain import Domain

domain = Domain(
    name="audit",
    order=4,
    routes=routes.routes,
    piccolo_app="web.audit.piccolo_app",
    abilities={"view_audit": {"commander", "secretary"}},
    fixed_paths=[AuditEntry],  # where the subject sat when the entry was written
)
