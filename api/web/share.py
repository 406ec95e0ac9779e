"""Sharing a petition: the links of the share actions, and the share image social sites show.

The share actions are plain links to each service's own share address (no script or image of
theirs is ever loaded); each carries `?ref=<channel>`, so staff can see which channel brought
how many confirmed signers (api.petitions: counted in aggregate, never per person).

The share image is a 1200x630 PNG (the size Open Graph and X's large card expect) with the
petition's title and its live count, drawn with Pillow and kept per process for
SHARE_IMAGE_SECONDS, so a crawler storm costs one drawing per petition per interval.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from api.petitions.schemas import PetitionPublic
from api.web.i18n import choose_language, fill, format_number, strings

if TYPE_CHECKING:
    from PIL import ImageDraw

# Pillow is imported where an image is drawn: ~20 ms of every process start otherwise, for an
# image drawn at most once per petition and language per SHARE_IMAGE_SECONDS.

SHARE_IMAGE_SIZE = (1200, 630)
# Pillow's wheels ship FreeType; DejaVu is on most Linux systems. Without it, Pillow's own
# scalable default font (bundled in the package) is used.
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"

INK = (26, 26, 26)
ACCENT = (11, 83, 148)
PAPER = (255, 255, 255)
TRACK = (222, 228, 236)


@dataclass(frozen=True)
class ShareLink:
    channel: str
    label: str
    href: str


def shared_url(petition_url: str, channel: str, lang: str | None) -> str:
    """The petition's absolute URL as shared on `channel` (with `?ref=`, and the language)."""
    params = {"ref": channel} | ({"lang": lang} if lang else {})
    return f"{petition_url}?{urlencode(params)}"


def share_links(
    petition_url: str, text: str, subject: str, labels: dict[str, str], lang: str | None
) -> list[ShareLink]:
    """Links for WhatsApp, Facebook, X and email; each service's public share address."""

    def url(channel: str) -> str:
        return quote(shared_url(petition_url, channel, lang), safe="")

    return [
        ShareLink(
            "whatsapp", labels["whatsapp"], f"https://wa.me/?text={quote(text)}%20{url('whatsapp')}"
        ),
        ShareLink(
            "facebook",
            labels["facebook"],
            f"https://www.facebook.com/sharer/sharer.php?u={url('facebook')}",
        ),
        ShareLink("x", labels["x"], f"https://x.com/intent/post?text={quote(text)}&url={url('x')}"),
        ShareLink(
            "email",
            labels["email"],
            f"mailto:?subject={quote(subject)}&body={quote(text)}%0A%0A{url('email')}",
        ),
    ]


def share_context(request: Request, petition: PetitionPublic, lang: str) -> dict[str, Any]:
    """The thank-you state's share actions for one petition."""
    choice = choose_language(request)
    t = strings(lang)
    petition_url = request.app.state.settings.public_base_url + f"/petitions/{petition.slug}"
    explicit_lang = lang if choice.explicit else None
    text = fill(t["share_text"], title=petition.title)
    labels = {channel: t[f"share_{channel}"] for channel in ("whatsapp", "facebook", "x", "email")}
    return {
        "share_links": share_links(petition_url, text, petition.title, labels, explicit_lang),
        "copy_url": shared_url(petition_url, "copy", explicit_lang),
        "web_share_url": shared_url(petition_url, "share", explicit_lang),
        "share_text": text,
        "share_title": petition.title,
    }


# --- the image ------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _font(bold: bool, size: int) -> Any:
    from PIL import ImageFont

    path = BOLD_FONT if bold else REGULAR_FONT
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _fitted_title(draw: ImageDraw.ImageDraw, title: str, width: int) -> tuple[Any, list[str]]:
    """The largest size at which the title fits in three lines (shortened at the smallest)."""
    for size in (72, 64, 56, 48):
        font = _font(True, size)
        lines = _wrap(draw, title, font, width)
        if len(lines) <= 3:
            return font, lines
    lines = lines[:3]
    lines[2] = lines[2].rstrip(".,;: ") + "…"
    return font, lines


def draw_share_image(
    title: str, count_line: str, goal_line: str, site_name: str, progress: float
) -> bytes:
    """A 1200x630 PNG: the site's name, the title, the count and a progress bar."""
    from PIL import Image, ImageDraw

    width, height = SHARE_IMAGE_SIZE
    margin = 72
    image = Image.new("RGB", SHARE_IMAGE_SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 16), fill=ACCENT)
    draw.text((margin, 56), site_name, font=_font(True, 30), fill=ACCENT)
    title_font, lines = _fitted_title(draw, title, width - 2 * margin)
    y = 120
    line_height = int(title_font.size * 1.2)
    for line in lines:
        draw.text((margin, y), line, font=title_font, fill=INK)
        y += line_height
    draw.text((margin, height - 190), count_line, font=_font(True, 52), fill=ACCENT)
    bar_top = height - 110
    draw.rounded_rectangle((margin, bar_top, width - margin, bar_top + 28), 14, fill=TRACK)
    filled = margin + int((width - 2 * margin) * max(0.0, min(1.0, progress)))
    if filled > margin + 28:
        draw.rounded_rectangle((margin, bar_top, filled, bar_top + 28), 14, fill=ACCENT)
    draw.text((margin, bar_top + 40), goal_line, font=_font(False, 26), fill=INK)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class ShareImage:
    png: bytes
    etag: str

    @classmethod
    def of(cls, png: bytes) -> ShareImage:
        return cls(png, '"' + hashlib.blake2b(png, digest_size=12).hexdigest() + '"')


def petition_share_image(petition: PetitionPublic, lang: str) -> ShareImage:
    """The petition's image in `lang`: its title, its count and its goal."""
    t = strings(lang)
    count = t["count_text_one" if petition.verified_count == 1 else "count_text"]
    return ShareImage.of(
        draw_share_image(
            petition.title,
            fill(count, verified=format_number(petition.verified_count, lang)),
            fill(t["count_goal"], goal=format_number(petition.goal, lang)),
            t["site_name"],
            petition.progress,
        )
    )


def share_image_response(request: Request, image: ShareImage, max_age_seconds: float) -> Response:
    """The image, or 304 when the crawler already holds this drawing (its ETag)."""
    headers = {"ETag": image.etag, "Cache-Control": f"public, max-age={int(max_age_seconds)}"}
    if image.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(image.png, media_type="image/png", headers=headers)
