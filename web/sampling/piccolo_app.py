"""Staggered sampling: sites and the slots generated for each micro-grid."""
import os

from piccolo.conf.apps import AppConfig

from web.sampling.tables import SamplingSite, SamplingSlot

APP_CONFIG = AppConfig(
    app_name="sampling",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[SamplingSite, SamplingSlot],
    migration_dependencies=["web.campaigns.piccolo_app"],
    commands=[],
)
