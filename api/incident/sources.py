"""Staff editing of sources (the admin API): add, change and remove them, checking that the
label comes from the text and that a new text still holds every quote citing it."""

from __future__ import annotations

import hashlib

from sqlalchemy import func
from sqlmodel import Session, select

from api.errors import Conflict, FieldError, invalid
from api.incident.admin_schemas import SourceAdmin, SourceCreate, SourceUpdate
from api.incident.editing import body_error, next_position, refuse
from api.incident.models import Citation, DiscrepancyVersion, Source
from api.incident.reads import source_public, source_row
from api.incident.support import derive_label, label_problem, quote_problem


def get_source_admin(session: Session, source_id: str) -> SourceAdmin:
    source = source_row(session, source_id)
    public = source_public(session, source)
    return SourceAdmin(**public.model_dump(), has_text=source.text is not None, text=source.text)


def create_source(session: Session, data: SourceCreate) -> SourceAdmin:
    if session.get(Source, data.id) is not None:
        raise Conflict(f"A source with id '{data.id}' already exists.")
    if data.text is not None:
        digest = _content_sha256(data.text)
        if data.content_sha256 is not None and data.content_sha256 != digest:
            raise invalid(
                "content_sha256",
                f"Is not the SHA-256 of `text` as UTF-8 ({digest}); send the matching hash or "
                "leave it out.",
                "hash_mismatch",
            )
    elif data.content_sha256 is not None:
        digest = data.content_sha256
    else:
        raise invalid(
            "content_sha256", "Required when no `text` is sent.", "missing_content_sha256"
        )
    _require_unique_hash(session, digest, data.id)
    label = data.label or derive_label(data.title, data.text)
    _check_label(label, data.title, data.text)
    session.add(
        Source(
            id=data.id,
            position=next_position(session, Source),
            title=data.title,
            label=label,
            publisher=data.publisher,
            published=data.published,
            kind=data.kind,
            language=data.language,
            content_sha256=digest,
            text=data.text,
        )
    )
    session.flush()
    return get_source_admin(session, data.id)


def update_source(session: Session, source_id: str, data: SourceUpdate) -> SourceAdmin:
    source = source_row(session, source_id)
    given = data.model_fields_set
    for name in ("title", "label", "publisher", "published", "kind", "language"):
        if name in given:
            setattr(source, name, getattr(data, name))
    if "text" in given:
        digest = _content_sha256(data.text)
        if "content_sha256" in given and data.content_sha256 != digest:
            raise invalid(
                "content_sha256",
                f"Is not the SHA-256 of `text` as UTF-8 ({digest}).",
                "hash_mismatch",
            )
        _check_existing_quotes(source, data.text)
        source.text = data.text
        source.content_sha256 = digest
    elif "content_sha256" in given and data.content_sha256 != source.content_sha256:
        if source.text is not None:
            raise invalid(
                "content_sha256",
                "The stored text has another SHA-256; send the new `text` instead.",
                "hash_mismatch",
            )
        source.content_sha256 = data.content_sha256
    # Not flushed before the check: the unique index would turn the documented 409 into a 500.
    with session.no_autoflush:
        _require_unique_hash(session, source.content_sha256, source_id)
    if source.label is None:
        source.label = derive_label(source.title, source.text)
    _check_label(source.label, source.title, source.text)
    session.add(source)
    session.flush()
    return get_source_admin(session, source_id)


def delete_source(session: Session, source_id: str) -> None:
    source = source_row(session, source_id)
    cited_by = (
        session.exec(
            select(func.count()).select_from(Citation).where(Citation.source_id == source_id)
        ).one()
        + session.exec(
            select(func.count())
            .select_from(DiscrepancyVersion)
            .where(DiscrepancyVersion.source_id == source_id)
        ).one()
    )
    if cited_by:
        raise Conflict(
            f"Source '{source_id}' is quoted {cited_by} times; remove those quotes first."
        )
    session.delete(source)
    session.flush()


def _content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _require_unique_hash(session: Session, digest: str, source_id: str) -> None:
    other = session.exec(
        select(Source.id).where(Source.content_sha256 == digest, Source.id != source_id)
    ).first()
    if other is not None:
        raise Conflict(f"Source '{other}' already has this content (SHA-256 {digest}).")


def _check_label(label: str | None, title: str | None, text: str | None) -> None:
    if label is None or text is None:
        return  # nothing to derive it from, or nothing to check it against
    problem = label_problem(label, title, text)
    if problem is not None:
        raise invalid("label", f"Is not derived from the text: {problem}.", "label_not_from_text")


def _check_existing_quotes(source: Source, text: str) -> None:
    """A new text must still hold every quote already citing the source."""
    quoted = [
        (f"Fact '{c.fact_id}' citation {c.position}", c.quote, c.start, c.end)
        for c in source.citations
    ] + [
        (f"Discrepancy '{v.discrepancy_id}' version {v.position}", v.quote, v.start, v.end)
        for v in source.discrepancy_versions
    ]
    errors: list[FieldError] = []
    for where, quote, start, end in quoted:
        problem = quote_problem(text, quote, start, end)
        if problem is not None:
            errors.append(
                body_error("text", f"{where}: the quote {problem}.", "quote_not_verbatim")
            )
    if errors:
        raise refuse(errors)
