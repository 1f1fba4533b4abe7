"""Every message of the pages is in the 简体中文 catalog (Babel extraction over the sources)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

from qingshan.web.i18n import LOCALES_DIR, translations

WEB = Path(__file__).parents[2] / "src" / "qingshan" / "web"
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted_messages() -> set[str]:
    messages = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHOD_MAP, OPTIONS
    ):
        messages.add(message if isinstance(message, str) else message[0])
    return messages


def test_every_page_message_has_a_chinese_translation() -> None:
    chinese = translations("zh_CN")
    messages = extracted_messages()
    assert len(messages) > 40
    untranslated = sorted(m for m in messages if chinese.gettext(m) == m)
    assert untranslated == []


def test_english_is_the_source_language() -> None:
    assert translations("en").gettext("Overview") == "Overview"
    assert translations("zh_CN").gettext("Overview") == "一张图"
    assert (LOCALES_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").exists()
