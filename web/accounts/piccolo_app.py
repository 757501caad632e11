import os

from piccolo.conf.apps import AppConfig

from web.accounts.tables import (
    HouseholdLink,
    Organisation,
    RoleGrant,
    Session,
    SignInAttempt,
    User,
)

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Organisation, User, RoleGrant, Session, HouseholdLink, SignInAttempt],
    migration_dependencies=["web.places.piccolo_app", "web.households.piccolo_app"],
    commands=[],
)
