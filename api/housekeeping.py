"""The mail worker's chores: daily, retention (erase signers' data of long-closed petitions),
expired records and recipients' hashes the mail cap no longer needs; every minute, the one
reminder to signers who have not confirmed."""

from __future__ import annotations

import datetime as dt
import logging

from api.config import Settings
from api.db import Database
from api.mail.service import RecipientLimit, forget_recipients
from api.petitions.reminders import send_due_reminders
from api.petitions.service import SigningContext, anonymize_closed

logger = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600


def run_housekeeping(database: Database, settings: Settings) -> int:
    with database.session(write=True) as session:
        erased = anonymize_closed(session, settings.retention_days)
        forget_recipients(session, RecipientLimit.parse(settings.mail_recipient_limit).window)
    logger.info("retention: erased personal data of %d signatures", erased)
    return erased


def send_reminders(database: Database, settings: Settings) -> int:
    """Queue the reminder of every signature due one (REMINDER_AFTER_HOURS; 0 sends none).
    Safe with any number of workers: each signature is claimed once."""
    if settings.reminder_after_hours <= 0:
        return 0
    context = SigningContext(
        secret=settings.secret(), public_base_url=settings.public_base_url, client_ip=None
    )
    with database.session(write=True) as session:
        queued = send_due_reminders(
            session, context, dt.timedelta(hours=settings.reminder_after_hours)
        )
    if queued:
        logger.info("reminders: queued %d", queued)
    return queued
