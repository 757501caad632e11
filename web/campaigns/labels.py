"""How campaigns' values are shown: labels in the user's language (filters for its templates)."""

from __future__ import annotations

from web.campaigns.checks import CHECKS
from web.core.display import per_locale
from web.core.i18n import _


@per_locale
def campaign_kind_label() -> dict[str, str]:
    return {
        "testing_round": _("Testing round"),
        "census": _("Census of special populations"),
        "renters": _("Renters and transients check"),
        "resweep": _("Re-sweep"),
    }


@per_locale
def outcome_label() -> dict[str, str]:
    return {
        "": _("Not reached"),
        "visited": _("Visited"),
        "nobody_home": _("Nobody home — revisit"),
        "refused": _("Refused entry"),
        "vacant": _("Vacant"),
    }


@per_locale
def check_label() -> dict[str, str]:
    return {check.name: check.label() for check in CHECKS}


@per_locale
def value_label() -> dict[str, str]:
    return {
        "yes": _("Yes"),
        "no": _("No"),
        "green": _("Green"),
        "yellow": _("Yellow"),
        "red": _("Red"),
        "head": _("at the door"),
        "self": _("self-reported"),
        "site": _("at the sampling site"),
        "yes_no": _("Yes / no"),
        "choice": _("Choice"),
        "number": _("Number"),
        "date": _("Date"),
        "text": _("Short text"),
    }
