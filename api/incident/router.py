"""HTTP for the incident: parse, call the service, shape the response. No rules here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import PUBLIC_CACHE, PUBLIC_CACHE_VALUE, ReadSession
from api.errors import NotFound, problem_responses
from api.fields import SLUG_MAX, IsoDate
from api.incident import reads
from api.incident.csl import source_as_csl
from api.incident.models import DiscrepancyKind, FactStatus
from api.incident.schemas import (
    DiscrepancyPublic,
    FactPublic,
    IncidentPublic,
    SourcePublic,
    TimelineEntry,
)
from api.openapi import operation_id
from api.pagination import Page, PageParams, page_of, page_params
from api.routing import ApiRoute

CSL_MEDIA_TYPE = "application/vnd.citationstyles.csl+json"
CSL_ITEM_REF = {"$ref": "#/components/schemas/CslItem"}  # api.openapi adds the schema
CSL_EXAMPLE = {
    "id": "article-please-let-me-go",
    "type": "article-newspaper",
    "language": "en",
}


def _csl_response(content: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        content,
        media_type=CSL_MEDIA_TYPE,
        headers={"Vary": "Accept", "Cache-Control": PUBLIC_CACHE_VALUE, **(headers or {})},
    )


def _wants_csl(request: Request) -> bool:
    return CSL_MEDIA_TYPE in request.headers.get("accept", "")


router = APIRouter(
    prefix="/v1",
    dependencies=[PUBLIC_CACHE],
    route_class=ApiRoute,
    generate_unique_id_function=operation_id,
)

FactIdPath = Annotated[
    str, Path(max_length=SLUG_MAX, description="The fact's stable id.", examples=["kaia-age-six"])
]
SourceIdPath = Annotated[
    str,
    Path(
        max_length=SLUG_MAX,
        description="The source's stable id.",
        examples=["article-please-let-me-go"],
    ),
]
Paging = Annotated[PageParams, Depends(page_params)]


@router.get(
    "/incident",
    tags=["incident"],
    summary="The incident, summarised",
    description="One resource tying the incident together: where and when (with the date's "
    "precision), the child, the people and agencies involved with their roles, each pointing "
    "at the facts that support it, counts of facts, sources and discrepancies, and links to "
    "them.",
    response_model=IncidentPublic,
    responses=problem_responses(
        NotFound("The incident has not been loaded yet; run `advocacy seed`.")
    ),
)
def read_incident(session: ReadSession) -> IncidentPublic:
    return reads.get_incident(session)


@router.get(
    "/facts",
    tags=["facts"],
    summary="List facts",
    description="Facts in narrative order, each with verbatim quotes from every source that "
    "states it. Filters combine with AND. `q` searches statements and quotes, "
    "case-insensitively. `occurred_from`/`occurred_to` match facts whose date, at its "
    "precision, overlaps the range (a fact dated September 2019 matches 2019-09-15).",
    response_model=Page[FactPublic],
)
def list_facts(
    request: Request,
    session: ReadSession,
    paging: Paging,
    topic: Annotated[str | None, Query(max_length=40, examples=["firing"])] = None,
    source: Annotated[
        str | None, Query(max_length=SLUG_MAX, description="Only facts citing this source id.")
    ] = None,
    status: Annotated[FactStatus | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    occurred_from: Annotated[IsoDate | None, Query()] = None,
    occurred_to: Annotated[IsoDate | None, Query()] = None,
) -> Page[FactPublic]:
    filters = reads.FactFilters(topic, source, status, q, occurred_from, occurred_to)
    items, cursor = reads.list_facts(session, filters, paging)
    return page_of(request, items, cursor)


@router.get(
    "/facts/{fact_id}",
    tags=["facts"],
    summary="One fact",
    description="A fact with its status, date, and a quote from every source that states it.",
    response_model=FactPublic,
    responses=problem_responses(NotFound("No fact with id 'no-such-fact'.")),
)
def read_fact(fact_id: FactIdPath, session: ReadSession) -> FactPublic:
    return reads.get_fact(session, fact_id)


@router.get(
    "/sources",
    tags=["sources"],
    summary="List sources",
    description="The documents facts are drawn from. Metadata the text does not state "
    "(publisher, date) is null rather than guessed. Send `Accept: "
    "application/vnd.citationstyles.csl+json` to get the page as a CSL-JSON array for "
    'reference managers; the next page\'s URL is then in the `Link` header (`rel="next"`).',
    response_model=Page[SourcePublic],
    responses={
        200: {
            "content": {
                CSL_MEDIA_TYPE: {
                    "schema": {"type": "array", "items": CSL_ITEM_REF},
                    "example": [CSL_EXAMPLE],
                }
            },
            "headers": {
                "Link": {
                    "description": 'With CSL-JSON only: `<URL>; rel="next"` while there is '
                    "a next page.",
                    "schema": {"type": "string"},
                }
            },
        }
    },
)
def list_sources(
    request: Request, session: ReadSession, paging: Paging
) -> Page[SourcePublic] | JSONResponse:
    items, cursor = reads.list_sources(session, paging)
    page = page_of(request, items, cursor)
    if _wants_csl(request):
        csl = [
            source_as_csl(item).model_dump(mode="json", by_alias=True, exclude_none=True)
            for item in items
        ]
        return _csl_response(csl, {"Link": f'<{page.next}>; rel="next"'} if page.next else None)
    return page


@router.get(
    "/sources/{source_id}",
    tags=["sources"],
    summary="One source",
    description="A source's metadata. Send `Accept: application/vnd.citationstyles.csl+json` "
    "to get it as a CSL-JSON item for reference managers.",
    response_model=SourcePublic,
    responses={
        200: {"content": {CSL_MEDIA_TYPE: {"schema": CSL_ITEM_REF, "example": CSL_EXAMPLE}}},
        **problem_responses(NotFound("No source with id 'no-such-source'.")),
    },
)
def read_source(
    source_id: SourceIdPath, request: Request, session: ReadSession
) -> SourcePublic | JSONResponse:
    source = reads.get_source(session, source_id)
    if _wants_csl(request):
        csl = source_as_csl(source)
        return _csl_response(csl.model_dump(mode="json", by_alias=True, exclude_none=True))
    return source


@router.get(
    "/timeline",
    tags=["facts"],
    summary="Timeline of dated facts",
    description="Facts that have a date, in order of the latest day each could fall on (so a "
    "fact known only to the year sorts after one known to the month of that year). Each date "
    "carries its precision and whether it was inferred.",
    response_model=Page[TimelineEntry],
)
def read_timeline(request: Request, session: ReadSession, paging: Paging) -> Page[TimelineEntry]:
    items, cursor = reads.timeline(session, paging)
    return page_of(request, items, cursor)


@router.get(
    "/discrepancies",
    tags=["facts"],
    summary="Where sources disagree",
    description="Each discrepancy lists every source's version with its verbatim quote. "
    "The campaign picks no side. `kind` tells a `substantive` disagreement (the sources state "
    "different facts; its facts are `disputed`) from a `wording` variant (the same fact in "
    "different words, or accounts that differ without contradicting each other), which "
    "disputes nothing. Filter with `kind`.",
    response_model=Page[DiscrepancyPublic],
)
def list_discrepancies(
    request: Request,
    session: ReadSession,
    paging: Paging,
    kind: Annotated[DiscrepancyKind | None, Query(description="Only this kind.")] = None,
) -> Page[DiscrepancyPublic]:
    items, cursor = reads.list_discrepancies(session, paging, kind)
    return page_of(request, items, cursor)
