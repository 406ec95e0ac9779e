"""Admin: the fact base. Sources, facts, their citations, and discrepancies between sources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response, status

from api.admin import facts
from api.admin.auth import Actor, require
from api.admin.models import Scope
from api.admin.routers.common import admin_router, problems
from api.deps import ReadSession, WriteSession
from api.errors import Conflict, NotFound
from api.fields import SLUG_MAX
from api.incident.admin_schemas import (
    CitationAdmin,
    CitationIn,
    CitationUpdate,
    DiscrepancyCreate,
    DiscrepancyUpdate,
    FactCreate,
    FactUpdate,
    SourceAdmin,
    SourceCreate,
    SourceUpdate,
)
from api.incident.schemas import DiscrepancyPublic, FactPublic
from api.incident.sources import get_source_admin

router = admin_router()

FactsWriter = Annotated[Actor, require(Scope.facts_write)]
SCOPE = " Scope: `facts:write`."
VERBATIM = (
    " When the cited source's text is stored, each quote must stand verbatim at its offsets "
    "(`text[start:end] == quote`); otherwise `end - start` must be the quote's length. A "
    "refused quote is a 422 naming the field, e.g. `citations.0.quote`."
)
SourceId = Annotated[str, Path(max_length=SLUG_MAX, examples=["article-please-let-me-go"])]
FactId = Annotated[str, Path(max_length=SLUG_MAX, examples=["kaia-age-six"])]
DiscrepancyId = Annotated[
    str, Path(max_length=SLUG_MAX, examples=["staff-struck-how-many-and-how"])
]
Position = Annotated[
    int,
    Path(ge=0, le=1_000_000, description="The citation's position within its fact.", examples=[0]),
]


# --- sources ------------------------------------------------------------------------------


@router.get(
    "/sources/{source_id}",
    summary="One source, with its text",
    description="The source's metadata and, when stored, its full text (quotes index into "
    "it)." + SCOPE,
    response_model=SourceAdmin,
    responses=problems(NotFound),
)
def read_source(actor: FactsWriter, source_id: SourceId, session: ReadSession) -> SourceAdmin:
    return get_source_admin(session, source_id)


@router.post(
    "/sources",
    summary="Add a source",
    description="A new source, listed after the others. Send its `text` to have every quote "
    "citing it checked verbatim when saved; `content_sha256` is then computed from the text "
    "(UTF-8), and must match it if sent too. Without `text`, `content_sha256` is required. "
    "409 if the id or the content is already known." + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=SourceAdmin,
    responses=problems(Conflict),
)
def create_source(
    actor: FactsWriter, body: SourceCreate, session: WriteSession, response: Response
) -> SourceAdmin:
    source = facts.create_source(session, actor, body)
    response.headers["Location"] = f"/v1/admin/sources/{source.id}"
    return source


@router.patch(
    "/sources/{source_id}",
    summary="Edit a source",
    description="Send only the fields to change. A new `text` replaces `content_sha256` with "
    "its hash, and must still hold every quote already citing the source, or the change is "
    "refused (422 on `text`, naming each quote that no longer fits)." + SCOPE,
    response_model=SourceAdmin,
    responses=problems(NotFound, Conflict),
)
def update_source(
    actor: FactsWriter, source_id: SourceId, body: SourceUpdate, session: WriteSession
) -> SourceAdmin:
    return facts.update_source(session, actor, source_id, body)


@router.delete(
    "/sources/{source_id}",
    summary="Delete a source",
    description="Only a source no quote cites (409 otherwise): remove or move those quotes "
    "first." + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound, Conflict),
)
def delete_source(actor: FactsWriter, source_id: SourceId, session: WriteSession) -> None:
    facts.delete_source(session, actor, source_id)


# --- facts --------------------------------------------------------------------------------


@router.post(
    "/facts",
    summary="Add a fact",
    description="A fact with at least one citation. Its status (`single_source`, "
    "`corroborated`, `disputed`) is worked out from its citations and discrepancies."
    + VERBATIM
    + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=FactPublic,
    responses=problems(Conflict),
)
def create_fact(
    actor: FactsWriter, body: FactCreate, session: WriteSession, response: Response
) -> FactPublic:
    fact = facts.create_fact(session, actor, body)
    response.headers["Location"] = f"/v1/facts/{fact.id}"
    return fact


@router.patch(
    "/facts/{fact_id}",
    summary="Edit a fact",
    description="Send only the fields to change; `citations` replaces the whole list, "
    "`occurred: null` removes the date. Statuses are recomputed." + VERBATIM + SCOPE,
    response_model=FactPublic,
    responses=problems(NotFound),
)
def update_fact(
    actor: FactsWriter, fact_id: FactId, body: FactUpdate, session: WriteSession
) -> FactPublic:
    return facts.update_fact(session, actor, fact_id, body)


@router.delete(
    "/facts/{fact_id}",
    summary="Delete a fact",
    description="Deletes the fact with its citations and its links to discrepancies. 409 "
    "while a petition's text refers to it as `[fact:ID]`." + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound, Conflict),
)
def delete_fact(actor: FactsWriter, fact_id: FactId, session: WriteSession) -> None:
    facts.delete_fact(session, actor, fact_id)


@router.post(
    "/facts/{fact_id}/citations",
    summary="Add a citation to a fact",
    description="Another source's quote for the fact, after its other citations; the fact's "
    "status is recomputed." + VERBATIM.replace("citations.0.quote", "quote") + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=CitationAdmin,
    responses=problems(NotFound),
)
def add_citation(
    actor: FactsWriter, fact_id: FactId, body: CitationIn, session: WriteSession
) -> CitationAdmin:
    return facts.add_citation(session, actor, fact_id, body)


@router.patch(
    "/facts/{fact_id}/citations/{position}",
    summary="Edit a citation",
    description="Send only the fields to change; the result is checked as a whole."
    + VERBATIM.replace("citations.0.quote", "quote")
    + SCOPE,
    response_model=CitationAdmin,
    responses=problems(NotFound),
)
def update_citation(
    actor: FactsWriter,
    fact_id: FactId,
    position: Position,
    body: CitationUpdate,
    session: WriteSession,
) -> CitationAdmin:
    return facts.update_citation(session, actor, fact_id, position, body)


@router.delete(
    "/facts/{fact_id}/citations/{position}",
    summary="Delete a citation",
    description="Removes one citation; the fact's status is recomputed. 409 for a fact's "
    "only citation: every fact needs a source." + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound, Conflict),
)
def delete_citation(
    actor: FactsWriter, fact_id: FactId, position: Position, session: WriteSession
) -> None:
    facts.delete_citation(session, actor, fact_id, position)


# --- discrepancies ------------------------------------------------------------------------


@router.post(
    "/discrepancies",
    summary="Record a disagreement between sources",
    description="At least two versions, each a source's quote and what it says; the facts it "
    "concerns become `disputed`." + VERBATIM.replace("citations.0", "versions.0") + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=DiscrepancyPublic,
    responses=problems(Conflict),
)
def create_discrepancy(
    actor: FactsWriter, body: DiscrepancyCreate, session: WriteSession
) -> DiscrepancyPublic:
    return facts.create_discrepancy(session, actor, body)


@router.patch(
    "/discrepancies/{discrepancy_id}",
    summary="Edit a discrepancy",
    description="Send only the fields to change; `fact_ids` and `versions` replace the whole "
    "list. Statuses are recomputed." + VERBATIM.replace("citations.0", "versions.0") + SCOPE,
    response_model=DiscrepancyPublic,
    responses=problems(NotFound),
)
def update_discrepancy(
    actor: FactsWriter,
    discrepancy_id: DiscrepancyId,
    body: DiscrepancyUpdate,
    session: WriteSession,
) -> DiscrepancyPublic:
    return facts.update_discrepancy(session, actor, discrepancy_id, body)


@router.delete(
    "/discrepancies/{discrepancy_id}",
    summary="Delete a discrepancy",
    description="Removes it with its versions; facts it concerned are no longer `disputed` "
    "because of it." + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound),
)
def delete_discrepancy(
    actor: FactsWriter, discrepancy_id: DiscrepancyId, session: WriteSession
) -> None:
    facts.delete_discrepancy(session, actor, discrepancy_id)
