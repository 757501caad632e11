import os

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="sampling",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[],
    migration_dependencies=["web.campaigns.piccolo_app"],
    commands=[],
)
