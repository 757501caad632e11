"""Piccolo's configuration (found through PICCOLO_CONF=web.piccolo_conf).

The engine is whatever web.db has bound, or the one the environment describes when
Piccolo's own CLI runs this first.
"""

from piccolo.conf.apps import AppRegistry

APP_REGISTRY = AppRegistry(
    apps=[
        "web.places.piccolo_app",
        "web.households.piccolo_app",
        "web.accounts.piccolo_app",
        "web.audit.piccolo_app",
        "web.sync.piccolo_app",
        "web.campaigns.piccolo_app",
        "web.sampling.piccolo_app",
    ]
)


def __getattr__(name: str):
    if name == "DB":
        from web import db

        return db.current_or_default()
    raise AttributeError(name)
