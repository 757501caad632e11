import os

from piccolo.conf.apps import AppConfig

from web.campaigns.tables import (Answer, Campaign, HouseholdStatus, PersonStatus, Question,
                                  Visit)

APP_CONFIG = AppConfig(
    app_name="campaigns",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=[Campaign, Question, Visit, Answer, HouseholdStatus, PersonStatus],
    migration_dependencies=["web.households.piccolo_app", "web.accounts.piccolo_app"],
    commands=[],
)
