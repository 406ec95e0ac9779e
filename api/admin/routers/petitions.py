"""Admin: petitions (create, edit, open, close) and the emergency switch on signing."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request, Response, status

from api.abuse.models import ALL_PETITIONS
from api.admin import petitions
from api.admin.auth import Actor, require
from api.admin.models import Scope
from api.admin.routers.common import Paging, admin_router, problems
from api.admin.schemas import (
    PausePublic,
    PauseRequest,
    PetitionAdmin,
    PetitionCreate,
    PetitionDetail,
    PetitionText,
    PetitionUpdate,
)
from api.deps import ReadSession, WriteSession
from api.errors import Conflict, NotFound
from api.fields import PetitionSlugPath
from api.pagination import Page, page_of
from api.petitions.models import Language

router = admin_router()

PetitionsWriter = Annotated[Actor, require(Scope.petitions_write)]
SCOPE = " Scope: `petitions:write`."
TextLanguage = Annotated[Language, Path(description="The language of the text.", examples=["es"])]


@router.get(
    "/petitions",
    summary="List petitions (drafts included)",
    description="Every petition, oldest first, with its status, current version, verified "
    "count and any pause in force." + SCOPE,
    response_model=Page[PetitionAdmin],
    responses=problems(),
)
def list_petitions(
    actor: PetitionsWriter, request: Request, session: ReadSession, paging: Paging
) -> Page[PetitionAdmin]:
    items, cursor = petitions.list_petitions(session, paging)
    return page_of(request, items, cursor)


@router.post(
    "/petitions",
    summary="Create a petition (as a draft)",
    description="A new petition starts as a `draft`: not listed, not signable, until it is "
    "opened. Its text is version 1. The `slug` cannot change later." + SCOPE,
    status_code=status.HTTP_201_CREATED,
    response_model=PetitionDetail,
    responses=problems(Conflict),
)
def create_petition(
    actor: PetitionsWriter, body: PetitionCreate, session: WriteSession, response: Response
) -> PetitionDetail:
    petition = petitions.create_petition(session, actor, body)
    response.headers["Location"] = f"/v1/admin/petitions/{petition.slug}"
    return petition


@router.get(
    "/petitions/{slug}",
    summary="One petition, with its versions",
    description="The petition as staff see it, with every text it has had." + SCOPE,
    response_model=PetitionDetail,
    responses=problems(NotFound),
)
def read_petition(
    actor: PetitionsWriter, slug: PetitionSlugPath, session: ReadSession
) -> PetitionDetail:
    return petitions.get_petition(session, slug)


@router.patch(
    "/petitions/{slug}",
    summary="Edit a petition",
    description="Send only the fields to change. A change to `title`, `ask`, `target` or "
    "`body` makes a new version with a new content hash; signatures already taken keep the "
    "version their signer saw, new ones record the new version. `goal`, `milestones`, "
    "`opens_at` and `closes_at` change without a new version." + SCOPE,
    response_model=PetitionDetail,
    responses=problems(NotFound),
)
def update_petition(
    actor: PetitionsWriter, slug: PetitionSlugPath, body: PetitionUpdate, session: WriteSession
) -> PetitionDetail:
    return petitions.update_petition(session, actor, slug, body)


@router.put(
    "/petitions/{slug}/text/{lang}",
    summary="Set the petition's text in one language",
    description="`title`, `ask`, `target` and `body` in `lang`: `es` sets (or replaces) the "
    "Spanish text; `en` changes the English text, which every petition has. A change makes a "
    "new version: its content hash covers the text in every language. Readers asking for a "
    "language the petition has (`?lang=` or `Accept-Language`) get that text, and signers' "
    "emails use the title in their language. Keep every `[fact:ID]` reference of the English "
    "text." + SCOPE,
    response_model=PetitionDetail,
    responses=problems(NotFound),
)
def set_petition_text(
    actor: PetitionsWriter,
    slug: PetitionSlugPath,
    lang: TextLanguage,
    body: PetitionText,
    session: WriteSession,
) -> PetitionDetail:
    return petitions.set_petition_text(session, actor, slug, lang, body)


@router.delete(
    "/petitions/{slug}/text/{lang}",
    summary="Remove the petition's text in one language",
    description="Readers asking for that language get the English text again. A new version. "
    "The English text cannot be removed (409); 404 if there is no text in `lang`." + SCOPE,
    response_model=PetitionDetail,
    responses=problems(NotFound, Conflict),
)
def delete_petition_text(
    actor: PetitionsWriter, slug: PetitionSlugPath, lang: TextLanguage, session: WriteSession
) -> PetitionDetail:
    return petitions.set_petition_text(session, actor, slug, lang, None)


@router.post(
    "/petitions/{slug}/open",
    summary="Open a petition for signing",
    description="A draft (or a closed petition, to reopen it) becomes `open`: listed and "
    "signable within its `opens_at`/`closes_at` window. 409 if it is already open, or if "
    "`closes_at` has passed." + SCOPE,
    response_model=PetitionDetail,
    responses=problems(NotFound, Conflict),
)
def open_petition(
    actor: PetitionsWriter, slug: PetitionSlugPath, session: WriteSession
) -> PetitionDetail:
    return petitions.open_petition(session, actor, slug)


@router.post(
    "/petitions/{slug}/close",
    summary="Close a petition",
    description="An open petition becomes `closed`: it stays readable with its counts, takes "
    "no more signatures, and `closed_at` is set (retention erases signers' personal data "
    "`RETENTION_DAYS` after it). 409 unless it is open." + SCOPE,
    response_model=PetitionDetail,
    responses=problems(NotFound, Conflict),
)
def close_petition(
    actor: PetitionsWriter, slug: PetitionSlugPath, session: WriteSession
) -> PetitionDetail:
    return petitions.close_petition(session, actor, slug)


@router.post(
    "/petitions/{slug}/pause",
    summary="Pause signing on one petition",
    description="The emergency switch for one petition: until resumed, signing it answers "
    "503 with `Retry-After: retry_after_seconds`. Pausing again replaces the reason and the "
    "retry time." + SCOPE,
    response_model=PausePublic,
    responses=problems(NotFound),
)
def pause_petition(
    actor: PetitionsWriter, slug: PetitionSlugPath, body: PauseRequest, session: WriteSession
) -> PausePublic:
    return petitions.pause_signing(session, actor, slug, body)


@router.post(
    "/petitions/{slug}/resume",
    summary="Resume signing on one petition",
    description="Removes the petition's own pause. A pause on all petitions stays in force "
    "until it is resumed too. 404 if the petition has no pause of its own." + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound),
)
def resume_petition(actor: PetitionsWriter, slug: PetitionSlugPath, session: WriteSession) -> None:
    petitions.resume_signing(session, actor, slug)


@router.get(
    "/signing/pauses",
    summary="Pauses in force",
    description="Every pause on signing: per petition (`scope` = its slug) and on all "
    "(`scope` = `*`)." + SCOPE,
    response_model=list[PausePublic],
    responses=problems(),
)
def list_pauses(actor: PetitionsWriter, session: ReadSession) -> list[PausePublic]:
    return petitions.list_pauses(session)


@router.post(
    "/signing/pause",
    summary="Pause signing on every petition",
    description="The emergency switch: until resumed, signing any petition answers 503 with "
    "`Retry-After`. Reading, confirming and withdrawing keep working." + SCOPE,
    response_model=PausePublic,
    responses=problems(),
)
def pause_all(actor: PetitionsWriter, body: PauseRequest, session: WriteSession) -> PausePublic:
    return petitions.pause_signing(session, actor, ALL_PETITIONS, body)


@router.post(
    "/signing/resume",
    summary="Resume signing on every petition",
    description="Removes the pause on all petitions. Pauses on single petitions stay. 404 if "
    "there is none." + SCOPE,
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(NotFound),
)
def resume_all(actor: PetitionsWriter, session: WriteSession) -> None:
    petitions.resume_signing(session, actor, ALL_PETITIONS)
