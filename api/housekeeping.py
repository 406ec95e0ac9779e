"""Daily chores: retention (erase signers' data of long-closed petitions), expired records,
recipients' hashes the mail cap no longer needs."""

from __future__ import annotations

import logging

from api.config import Settings
from api.db import Database
from api.mail.service import RecipientLimit, forget_recipients
from api.petitions.service import anonymize_closed

logger = logging.getLogger(__name__)

DAY_SECONDS = 24 * 3600


def run_housekeeping(database: Database, settings: Settings) -> int:
    with database.session(write=True) as session:
        erased = anonymize_closed(session, settings.retention_days)
        forget_recipients(session, RecipientLimit.parse(settings.mail_recipient_limit).window)
    logger.info("retention: erased personal data of %d signatures", erased)
    return erased
