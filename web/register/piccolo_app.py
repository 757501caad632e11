"""The register import: files waiting for their confirm."""
import os

from piccolo.conf.apps import AppConfig

from web.register.tables import Upload

APP_CONFIG = AppConfig(
    app_name="register",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Upload],
    migration_dependencies=["web.places.piccolo_app", "web.accounts.piccolo_app"],
    commands=[],
)
