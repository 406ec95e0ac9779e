"""Sources as CSL-JSON (Citation Style Language), for reference managers: what
`GET /v1/sources` answers to `Accept: application/vnd.citationstyles.csl+json`."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic import Field as PydanticField

from api.incident.schemas import SourcePublic


class CslDate(BaseModel):
    date_parts: list[list[int]] = PydanticField(alias="date-parts")


class CslItem(BaseModel):
    """A CSL-JSON item (Citation Style Language), for reference managers."""

    model_config = {"populate_by_name": True}

    id: str
    type: str = "article-newspaper"
    title: str | None = None
    publisher: str | None = None
    issued: CslDate | None = None
    language: str | None = None


def source_as_csl(source: SourcePublic) -> CslItem:
    issued = None
    if source.published is not None:
        published = source.published
        issued = CslDate(**{"date-parts": [[published.year, published.month, published.day]]})
    return CslItem(
        id=source.id,
        title=source.title,
        publisher=source.publisher,
        issued=issued,
        language=source.language,
    )
