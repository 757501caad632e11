"""The standard checks a campaign may ask of each person, declared once: the name kept in
`Campaign.checks` and `Answer.item`, the kind of answer the form takes, the label, and
what each answer means (the form colours a "no" to symptoms as good news, a "no" to
present as something to look at)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from web.core.i18n import _


@dataclass(frozen=True)
class Check:
    name: str
    kind: str  # the form's kind: yes_no, code, doses, text
    label: Callable[[], str]  # translated when shown
    meaning: dict[str, str] = field(default_factory=dict)  # answer -> good | warn | bad


CHECKS = (
    Check("present", "yes_no", lambda: _("Present"), {"yes": "good", "no": "warn"}),
    Check("sampled", "yes_no", lambda: _("Sampled this round"), {"yes": "good", "no": "warn"}),
    Check("code", "code", lambda: _("Health code"), {"green": "good", "yellow": "warn", "red": "bad"}),
    Check("itinerary", "text", lambda: _("Itinerary")),
    Check("doses", "doses", lambda: _("Vaccination doses")),
    Check("symptoms", "yes_no", lambda: _("Symptoms"), {"yes": "bad", "no": "good"}),
    Check("needs", "text", lambda: _("Special needs")),
)
STANDARD_CHECKS = tuple(check.name for check in CHECKS)
CHECK_KINDS = {check.name: check.kind for check in CHECKS}
CHECK_MEANING = {check.name: check.meaning for check in CHECKS if check.meaning}
