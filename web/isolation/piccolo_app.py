import os

from piccolo.conf.apps import AppConfig

from web.isolation.tables import DoorSample, Isolation

APP_CONFIG = AppConfig(
    app_name="isolation",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Isolation, DoorSample],
    # The campaigns app's first migrations made these tables: they run first.
    migration_dependencies=["web.campaigns.piccolo_app", "web.households.piccolo_app", "web.accounts.piccolo_app"],
    commands=[],
)
