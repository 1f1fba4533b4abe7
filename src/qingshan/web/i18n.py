"""Message catalogs of the pages: 简体中文 first, English as the source language.

Messages are written in English in templates and code (``_("Overview")``) and translated by
the Babel catalog ``locales/zh_CN/LC_MESSAGES/messages.po``; English needs no catalog. The
``.po`` file is compiled in memory at start-up (``babel.messages``), so no compiled ``.mo``
file has to be kept in step with it. After adding messages, update the catalog with::

    pybabel extract -F src/qingshan/web/babel.cfg -o /tmp/messages.pot src/qingshan/web
    pybabel update -i /tmp/messages.pot -d src/qingshan/web/locales --no-wrap

and translate the new entries; ``tests/web/test_i18n.py`` fails while one is untranslated.

The locale of a request lives in a context variable, so the same Jinja2 environment renders
pages in either language.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "zh_CN"
LOCALES = {"zh_CN": "简体中文", "en": "English"}

_current_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog of ``locale`` (English: the messages as written)."""
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def set_locale(locale: str) -> None:
    """Make ``locale`` the language of the current request."""
    _current_locale.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def current_locale() -> str:
    return _current_locale.get()


def gettext_(message: str) -> str:
    """``message`` in the current request's language."""
    return translations(current_locale()).gettext(message)


def localized(chinese: str, english: str) -> str:
    """Pick a name from data that carries both (parameters, AQI categories, sectors)."""
    return chinese if current_locale() == "zh_CN" else english


def N_(message: str) -> str:
    """Mark ``message`` for the catalog where it is defined; it is translated where shown."""
    return message


def ngettext_(singular: str, plural: str, count: int) -> str:
    """The singular or plural ``message`` for ``count`` in the current request's language."""
    return translations(current_locale()).ngettext(singular, plural, count)
