"""Reading and checking submitted forms; messages in the user's language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

from web.core.i18n import _


@dataclass
class FormPage:
    """The base of every page that carries a form: the messages beside its fields and
    what was typed, kept when it is refused (`web.core.render.refused`)."""

    errors: dict[str, str] = field(default_factory=dict, kw_only=True)
    values: dict[str, str] = field(default_factory=dict, kw_only=True)

    def under(self, prefix: str) -> tuple[dict[str, str], dict[str, str]]:
        """The values and errors of one of the page's forms, whose fields it keeps under
        `prefix` (e.g. "new." for the person added at the door), with the prefix off."""
        return ({k[len(prefix):]: v for k, v in self.values.items() if k.startswith(prefix)},
                {k[len(prefix):]: v for k, v in self.errors.items() if k.startswith(prefix)})


@dataclass
class Form:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def read(cls, request: Request[Any, Any, Any], lists: tuple[str, ...] = ()) -> "Form":
        """The submitted fields, trimmed; a field in `lists` (checkboxes sharing a name)
        keeps every value, comma-joined."""
        if request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
            # Every form but a file upload: read straight from the body, as Litestar's
            # own parser reads it, without building its multidict (replayed writes
            # arrive in bursts, and each is read here).
            pairs = parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True)
        else:
            pairs = list((await request.form()).multi_items())
        form = cls({k: (v if isinstance(v, str) else "").strip() for k, v in pairs})
        for name in lists:
            form.values[name] = ",".join(v for k, v in pairs if k == name and isinstance(v, str))
        return form

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def ids(self, name: str, message: str | None = None) -> list[int]:
        """The ids ticked in a list field (read with `lists=(name,)`: comma-joined), in
        order, once each. A part that is not a number is refused with `message`, or
        passed over when there is none."""
        found: list[int] = []
        for part in self.get(name).split(","):
            part = part.strip()
            if part.isdigit():
                if int(part) not in found:
                    found.append(int(part))
            elif part and message:
                self.errors[name] = message
        return found

    def required(self, name: str, message: str | None = None) -> str:
        value = self.get(name)
        if not value:
            self.errors[name] = message or _("This field is required.")
        return value

    def choice(self, name: str, choices: tuple[str, ...] | list[str], required: bool = True) -> str:
        value = self.get(name)
        if not value and not required:
            return ""
        if value not in choices:
            self.errors[name] = _("Choose one of the options.")
        return value

    def integer(self, name: str, low: int, high: int, required: bool = False) -> int | None:
        value = self.get(name)
        if not value:
            if required:
                self.errors[name] = _("This field is required.")
            return None
        try:
            number = int(value)
        except ValueError:
            self.errors[name] = _("Enter a whole number.")
            return None
        if not low <= number <= high:
            self.errors[name] = _("Enter a number from %(low)s to %(high)s.", low=low, high=high)
            return None
        return number

    @property
    def ok(self) -> bool:
        return not self.errors


PHONE = re.compile(r"^1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$")
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_phone(phone: str) -> bool:
    return bool(PHONE.match(phone))


def valid_id_number(id_number: str) -> bool:
    """A mainland resident ID: 18 characters with a correct check digit (GB 11643)."""
    if not ID_NUMBER.match(id_number):
        return False
    return id_check_digit(id_number[:17]) == id_number[17].upper()


def id_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return "10X98765432"[total % 11]
