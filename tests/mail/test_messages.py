"""The mail builder writes wire bytes itself; these tests parse them with the standard
library (policy.default) and compare them with what `EmailMessage` builds from the same
templates, and send them through a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parsedate_to_datetime
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import select

from api.db import Database
from api.mail import service
from api.mail.models import MailMessage
from api.mail.templates import _environment, render
from api.mail.worker import MailWorker, backend_for
from tests.conftest import SmtpSink, link_in

SENDER = "Campaña por la Edad Mínima <petition@example.org>"
PAYLOAD = {
    "first_name": "Lucía Peña",
    "petition_title": "Fijar 12 años como edad mínima de arresto en Florida",
    "confirm_url": "http://127.0.0.1:8000/confirm?token=" + "a" * 43 + "&lang=es",
    "withdraw_url": "http://127.0.0.1:8000/withdraw?token=" + "b" * 43 + "&lang=es",
    "access_url": "http://127.0.0.1:8000/my-signatures?token=" + "c" * 43 + "&lang=es",
}
ONE_MINUTE = dt.timedelta(minutes=1)
CASES = [
    (template, locale)
    for template in ("confirm", "reminder", "already_signed", "access")
    for locale in ("en", "es")
]


def email_message_render(
    template: str, locale: str, payload: dict[str, Any], *, sender: str, to: str
) -> EmailMessage:
    """How mail was built before: EmailMessage with the default policy."""
    environment = _environment()
    message = EmailMessage()
    message["Subject"] = (
        environment.get_template(f"{template}.{locale}.subject.txt").render(**payload).strip()
    )
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="advocacy.invalid")
    message.set_content(environment.get_template(f"{template}.{locale}.txt").render(**payload))
    message.add_alternative(
        environment.get_template(f"{template}.{locale}.html").render(**payload), subtype="html"
    )
    message["Content-Language"] = locale
    return message


def sent_bytes(message: EmailMessage) -> bytes:
    """What smtplib's send_message sent for an EmailMessage."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_equivalent(new: EmailMessage, old: EmailMessage) -> None:
    for name in ("Subject", "From", "To", "MIME-Version", "Content-Language"):
        assert new[name] == old[name], name
    assert abs(parsedate_to_datetime(new["Date"]) - parsedate_to_datetime(old["Date"])) < ONE_MINUTE
    assert re.fullmatch(r"<[^<>@\s]+@advocacy\.invalid>", new["Message-ID"])
    assert (
        [part.get_content_type() for part in new.walk()]
        == [part.get_content_type() for part in old.walk()]
        == ["multipart/alternative", "text/plain", "text/html"]
    )
    for subtype in ("plain", "html"):
        new_part, old_part = new.get_body((subtype,)), old.get_body((subtype,))
        assert new_part is not None and old_part is not None
        assert new_part.get_content_charset() == "utf-8"
        assert new_part.get_content() == old_part.get_content()  # type: ignore[attr-defined]
    assert all(not part.defects for part in new.walk())


@pytest.mark.parametrize(("template", "locale"), CASES)
def test_same_mail_as_email_message_builds(template: str, locale: str) -> None:
    to = "lucia.pena@example.org"
    mail = render(template, locale, PAYLOAD, sender=SENDER, to=to)
    old = email_message_render(template, locale, PAYLOAD, sender=SENDER, to=to)
    assert_equivalent(parse(mail.data), parse(sent_bytes(old)))
    assert mail.envelope_from == "petition@example.org"
    assert mail.recipients == (to,)
    assert not mail.smtputf8


def test_wire_format_is_7bit_crlf_with_encoded_non_ascii() -> None:
    mail = render("confirm", "es", PAYLOAD, sender=SENDER, to="lucia@example.org")
    assert mail.data.isascii()  # UTF-8 only inside RFC 2047 words and quoted-printable
    assert b"\n" not in mail.data.replace(b"\r\n", b"")
    lines = mail.data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78
    header_block = mail.data.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header_block  # the display name and the subject
    message = parse(mail.data)
    assert message["From"].addresses[0].display_name == "Campaña por la Edad Mínima"
    assert message["Subject"] == (
        "Confirme su firma: Fijar 12 años como edad mínima de arresto en Florida"
    )
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hola Lucía Peña:" in text and "«Fijar 12 años" in text
    assert PAYLOAD["confirm_url"] in text  # not broken by quoted-printable soft breaks
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert PAYLOAD["confirm_url"].replace("&", "&amp;") in html


def test_short_ascii_lines_are_sent_as_7bit() -> None:
    payload = {
        "first_name": "Ana",
        "petition_title": "Twelve",
        "confirm_url": "http://x.org/c",
        "withdraw_url": "http://x.org/w",
    }
    mail = render("confirm", "en", payload, sender="Campaign <p@example.org>", to="a@b.org")
    message = parse(mail.data)
    assert message["From"] == "Campaign <p@example.org>"
    assert message["Subject"] == "Please confirm your signature: Twelve"
    text = message.get_body(("plain",))
    assert text is not None and text["Content-Transfer-Encoding"] == "7bit"
    assert "Hello Ana," in text.get_content()  # type: ignore[attr-defined]
    # The layout's <body> line is longer than 78 characters.
    html = message.get_body(("html",))
    assert html is not None and html["Content-Transfer-Encoding"] == "quoted-printable"


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError):
        render(
            "confirm",
            "en",
            {**PAYLOAD, "petition_title": "x\r\nBcc: victim@example.org"},
            sender=SENDER,
            to="a@example.org",
        )


def test_a_recipient_that_needs_quoting_goes_through_the_header_parser() -> None:
    to = '"odd address"@example.org'
    mail = render("confirm", "en", PAYLOAD, sender=SENDER, to=to)
    old = email_message_render("confirm", "en", PAYLOAD, sender=SENDER, to=to)
    assert_equivalent(parse(mail.data), parse(sent_bytes(old)))
    assert mail.recipients == ('"odd address"@example.org',)


def enqueue(database: Database, to: str, locale: str = "es") -> None:
    with database.session(write=True) as session:
        service.enqueue(session, template="confirm", locale=locale, to_address=to, payload=PAYLOAD)


def test_spanish_mail_through_smtp(clean_database: Database, smtp_server, mail_settings) -> None:
    settings = mail_settings.model_copy(update={"mail_from": SENDER})
    worker = MailWorker(clean_database, settings, backend_for(settings))
    enqueue(clean_database, "lucia@example.org")
    assert worker.drain() == 1
    [received] = smtp_server.to("lucia@example.org")
    assert received["From"] == SENDER
    assert received["Content-Language"] == "es"
    assert received["Subject"].startswith("Confirme su firma: Fijar 12 años")
    assert link_in(received, "/confirm") == "a" * 43
    assert not received.defects


class AsciiOnlySmtpSink(SmtpSink):
    """A server without SMTPUTF8 (aiosmtpd's controller offers it unless told not to)."""

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(  # type: ignore[assignment]
            self, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=False
        )
        self._controller.start()  # type: ignore[attr-defined]


def test_non_ascii_address_needs_smtputf8(clean_database: Database, smtp_server, settings) -> None:
    to = "josé@example.org"
    mail = render("confirm", "es", PAYLOAD, sender=SENDER, to=to)
    assert mail.smtputf8 and mail.recipients == (to,)
    assert f"To: {to}\r\n".encode() in mail.data  # UTF-8 headers, as SMTPUTF8 allows

    # A server without SMTPUTF8: not sent, kept for a retry.
    ascii_only = AsciiOnlySmtpSink()
    ascii_only.start()
    try:
        smtp_settings = settings.model_copy(update={"smtp_url": SecretStr(ascii_only.url)})
        enqueue(clean_database, to)
        assert MailWorker(clean_database, smtp_settings, backend_for(smtp_settings)).run_once() == 0
    finally:
        ascii_only.stop()
    with clean_database.session(write=True) as session:
        [row] = session.exec(select(MailMessage)).all()
        assert row.status == "pending" and row.last_error == "send: SMTPNotSupportedError"
        row.next_attempt_at = row.created_at
        session.add(row)

    smtp_settings = settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url)})
    assert MailWorker(clean_database, smtp_settings, backend_for(smtp_settings)).drain() == 1
    [received] = smtp_server.to(to)
    # The standard library folds a long UTF-8 subject after "Subject:", as it did before.
    assert received["Subject"].strip().startswith("Confirme su firma: Fijar 12 años")
    text = received.get_body(("plain",))
    assert text is not None and text.get_content().startswith("Hola Lucía Peña:")  # type: ignore[attr-defined]


class RefusingSink(SmtpSink):
    """Refuses recipients whose address starts with "refused"."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_batch_over_several_connections_sends_each_mail_once(
    clean_database: Database, settings
) -> None:
    sink = RefusingSink()
    sink.start()
    try:
        url = sink.url + "&connections=3"
        smtp_settings = settings.model_copy(update={"smtp_url": SecretStr(url)})
        worker = MailWorker(clean_database, smtp_settings, backend_for(smtp_settings))
        addresses = [f"batch{i}@example.org" for i in range(20)]
        for address in [*addresses[:7], "refused@example.org", *addresses[7:]]:
            enqueue(clean_database, address, locale="en")
        assert worker.run_once() == 20
        assert sorted(m["To"] for m in sink.messages) == sorted(addresses)
        with clean_database.session() as session:
            [refused] = session.exec(
                select(MailMessage).where(MailMessage.status == "pending")
            ).all()
        assert refused.to_address == "refused@example.org"
        assert refused.last_error == "send: SMTPRecipientsRefused"
    finally:
        sink.stop()


def test_file_backend_writes_the_message_and_logs_its_links(
    clean_database: Database, settings, tmp_path, caplog
) -> None:
    file_settings = settings.model_copy(update={"mail_dir": tmp_path})
    worker = MailWorker(clean_database, file_settings, backend_for(file_settings))
    enqueue(clean_database, "lucia@example.org")
    with caplog.at_level("INFO", logger="api.mail.backends"):
        assert worker.drain() == 1
    [path] = tmp_path.glob("*.eml")
    message = parse(path.read_bytes())
    assert message["To"] == "lucia@example.org"
    assert PAYLOAD["confirm_url"] in message["X-Advocacy-Links"]
    assert PAYLOAD["confirm_url"] in caplog.text and "lucia@" not in caplog.text
