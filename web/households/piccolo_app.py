import os

from piccolo.conf.apps import AppConfig

from web.households.tables import Household, NotDuplicate, Person

APP_CONFIG = AppConfig(
    app_name="households",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Household, Person, NotDuplicate],
    migration_dependencies=["web.places.piccolo_app"],
    commands=[],
)
