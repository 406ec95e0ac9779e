"""Render mail from templates, in English or Spanish, as plain text and HTML."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LOCALES = ("en", "es")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    template: str, locale: str, payload: dict[str, Any], *, sender: str, to: str
) -> EmailMessage:
    locale = locale if locale in LOCALES else "en"
    environment = _environment()
    subject = environment.get_template(f"{template}.{locale}.subject.txt").render(**payload)
    text = environment.get_template(f"{template}.{locale}.txt").render(**payload)
    html = environment.get_template(f"{template}.{locale}.html").render(**payload)
    message = EmailMessage()
    message["Subject"] = subject.strip()
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="advocacy.invalid")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    # After the bodies: set_content() drops Content-* headers set before it.
    message["Content-Language"] = locale
    return message
