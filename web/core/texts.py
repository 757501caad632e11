"""The page script's texts, one static file per language (`texts.<locale>.js`).

Kept out of the pages: every page would otherwise carry them, and a phone prepared for
offline keeps hundreds of pages. As static files they are fetched once, precached by
the service worker with the shell, and their hashed names change with the catalogue.
"""

from __future__ import annotations

import json

from web.core import i18n, static
from web.core.i18n import gettext


def page_texts() -> dict[str, str]:
    # Placeholders stay as "%(n)s": the script fills them in.
    return {
        "unsent": gettext('%(n)s unsent', n='%(n)s'),
        "stale": gettext('Offline copy, saved %(age)s. It may be out of date.', age='%(age)s'),
        "saved": gettext('Saved on this phone. It will be sent when the network is back.'),
        "offlineNotSaved": gettext('No network, and this part was not saved on this phone.'),
        "needsNetwork": gettext('This needs the network: try again when you have signal.'),
        "savedWhen": gettext('saved %(when)s', when='%(when)s'),
        "resend": gettext('Send again'),
        "discard": gettext('Discard'),
        "discardConfirm": gettext('Discard for good? It will never be sent.'),
        "never": gettext('not yet'),
        "storage": gettext('%(used)s used, %(free)s free', used='%(used)s', free='%(free)s'),
        "persistent": gettext('This phone keeps Gridline data until you sign out.'),
        "notPersistent": gettext('The browser may clear saved pages when space runs low.'),
        "preparing": gettext('Preparing…'),
        "prepareFailed": gettext('Could not prepare everything: check the network and try again.'),
        "doorCodeInvalid": gettext("A door code is 8 letters and digits, as printed on the plate."),
        "cameraFailed": gettext("The camera could not be opened: type the code instead."),
        "notDoorPlate": gettext("This QR code is not a Gridline door plate."),
        "savedHere": gettext("Saved on this phone"),
        "ready": gettext('Ready offline: %(pages)s pages, %(size)s', pages='%(pages)s', size='%(size)s'),    }


def register() -> None:
    """Make `texts.<locale>.js` for every language, as static files."""
    for locale in i18n.LOCALES:
        token = i18n._current.set(locale)
        try:
            body = "window.glTexts = " + json.dumps(page_texts(), ensure_ascii=False, sort_keys=True) + ";\n"
        finally:
            i18n._current.reset(token)
        static.add_generated(f"texts.{locale}.js", body.encode("utf-8"))
