"""Piccolo's configuration (found through PICCOLO_CONF=web.piccolo_conf): every domain's app.

The engine is whatever web.db has bound, or the one the environment describes when
Piccolo's own CLI runs this first.
"""

from piccolo.conf.apps import AppRegistry

from web.core.domain import domains

# Every domain's Piccolo app, in the domains' order (a domain's tables before those that refer to them).
APP_REGISTRY = AppRegistry(apps=[d.piccolo_app for d in domains() if d.piccolo_app])


def __getattr__(name: str):
    if name == "DB":
        from web import db

        return db.current_or_default()
    raise AttributeError(name)
