from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(timezone.utc)


def local_zone() -> ZoneInfo:
    """The community's time zone (GRIDLINE_TZ): deadlines and sampling slots are local."""
    from web.settings import get_settings

    return ZoneInfo(get_settings().timezone)


def today() -> date:
    return now().astimezone(local_zone()).date()
