"""The support check: what a quote must be to count as evidence, what makes a disagreement
between sources real, and which statuses follow. Kept in one place so that the seed check
(`advocacy verify-citations`) and every staff edit through the admin API apply the same rules.

The rules:

- **Verbatim**: a quote is exactly `text[start:end]` of its source (`quote_problem`).
- **A clause, not a bare date or name** (`evidence_problem`): a quote used as evidence holds at
  least `EVIDENCE_MIN_LOWERCASE_WORDS` words written in lower case. Names, titles and dates are
  capitalised or written in digits ("February 25, 2020", "State Attorney Aramis Ayala"), so a
  quote made only of them fails, while any clause carries verbs, articles or prepositions in
  lower case ("School employees tell him that Kaia is six.").
- **A discrepancy is between sources** (`discrepancy_problem`): its versions cite at least two
  different sources, and at least two of those sources' versions say different things (`says`
  compared without case, spacing or punctuation). A variation inside one article is no
  discrepancy.
- **Only a substantive discrepancy disputes** (`derive_status`): a fact is `disputed` when a
  `substantive` discrepancy concerns it; otherwise `corroborated` when two or more sources cite
  it and `single_source` when one does. Every source cited for a fact must state all of it (with
  its other quotes of that fact); a source that states only part gets its own, narrower fact.
  That editorial rule is what makes counting sources mean "two sources state all of it".
- **Petition references exist**: every `[fact:ID]` in a petition's text names a fact.
- **Labels come from the text** (`label_problem`): a source's label is its title or the opening
  words of its text (an ellipsis may mark the cut).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from api.incident.models import (
    Citation,
    Discrepancy,
    DiscrepancyFact,
    DiscrepancyKind,
    DiscrepancyVersion,
    Fact,
    FactStatus,
    Source,
)
from api.petitions.models import Petition

EVIDENCE_MIN_LOWERCASE_WORDS = 3
LABEL_WORDS_MAX = 14
ELLIPSIS = "…"
FACT_REFERENCE = re.compile(r"\[fact:([A-Za-z0-9_-]{1,80})\]")
# A word: letters, with inner apostrophes or hyphens ("don't", "six-year-old").
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def quote_problem(text: str, quote: str, start: int, end: int) -> str | None:
    """Why `quote` does not stand at text[start:end], or None when it does."""
    found = text[start:end]
    if found == quote:
        return None
    elsewhere = text.find(quote)
    hint = (
        f"; the quote stands at [{elsewhere}:{elsewhere + len(quote)}]"
        if elsewhere >= 0
        else "; it is nowhere in the text"
    )
    return f"is not verbatim at [{start}:{end}], where the text reads {_shorten(found)!r}{hint}"


def lowercase_words(quote: str) -> list[str]:
    return [word for word in _WORD.findall(quote) if word[0].islower()]


def evidence_problem(quote: str) -> str | None:
    """Why `quote` is too bare to be evidence (a date, a name), or None when it is a clause."""
    count = len(lowercase_words(quote))
    if count >= EVIDENCE_MIN_LOWERCASE_WORDS:
        return None
    return (
        f"{_shorten(quote)!r} is not a sentence or clause: it has {count} word(s) in lower case, "
        f"at least {EVIDENCE_MIN_LOWERCASE_WORDS} are needed (a bare date or name proves "
        "nothing; quote the clause that states the fact)"
    )


@dataclass(frozen=True)
class VersionSays:
    source_id: str
    says: str


def _normalised(says: str) -> str:
    letters = (c for c in unicodedata.normalize("NFKC", says).casefold() if c.isalnum() or c == " ")
    return " ".join("".join(letters).split())


def discrepancy_problem(versions: Sequence[VersionSays]) -> str | None:
    """Why these versions are no disagreement between sources, or None when they are one."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for version in versions:
        by_source[version.source_id].add(_normalised(version.says))
    if len(by_source) < 2:
        return (
            "the versions must cite at least two different sources: a variation inside one "
            "source is no disagreement between sources"
        )
    sources = list(by_source.values())
    differ = any(
        a != b
        for i, first in enumerate(sources)
        for second in sources[i + 1 :]
        for a in first
        for b in second
    )
    if not differ:
        return "every source's version says the same thing: there is nothing to disagree about"
    return None


def derive_status(distinct_sources: int, substantive_dispute: bool) -> FactStatus:
    if substantive_dispute:
        return FactStatus.disputed
    return FactStatus.corroborated if distinct_sources >= 2 else FactStatus.single_source


def disputes(kind: str | DiscrepancyKind) -> bool:
    """Whether a discrepancy of this kind makes its facts `disputed`."""
    return DiscrepancyKind(kind) is DiscrepancyKind.substantive


def fact_references(body: str) -> list[str]:
    """The fact ids a petition's text refers to as `[fact:ID]`, in order."""
    return FACT_REFERENCE.findall(body)


def unknown_references(body: str, known: Collection[str]) -> list[str]:
    unknown: list[str] = []
    for fact_id in fact_references(body):
        if fact_id not in known and fact_id not in unknown:
            unknown.append(fact_id)
    return unknown


def opening_words(text: str, max_words: int = LABEL_WORDS_MAX) -> str:
    """The first line's opening words, with an ellipsis where they are cut."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    words = first_line.split()
    if len(words) <= max_words:
        return first_line
    return " ".join(words[:max_words]).rstrip(",;:") + ELLIPSIS


def derive_label(title: str | None, text: str | None) -> str | None:
    if title:
        return title
    if text:
        return opening_words(text) or None
    return None


def label_problem(label: str, title: str | None, text: str) -> str | None:
    """Why `label` is neither the title nor the opening words of `text`, or None."""
    if title and label == title:
        return None
    stem = label.removesuffix(ELLIPSIS).rstrip()
    if stem and text.lstrip().startswith(stem):
        return None
    return (
        f"the label {_shorten(label)!r} is neither the source's title nor the opening words of "
        "its text"
    )


# --- the whole fact base, as `advocacy verify-citations` checks it ---------------------------


def check_fact_base(session: Session, texts: Mapping[str, str]) -> list[str]:
    """Every rule above over the stored fact base and petitions; one line per problem.

    `texts` holds each source's text by source id, where known (labels are checked against it;
    the verbatim check of quotes is the caller's, which knows where each text came from).
    """
    problems: list[str] = []
    sources = {s.id: s for s in session.exec(select(Source))}
    for source in sources.values():
        text = texts.get(source.id, source.text)
        if source.label is None:
            problems.append(f"source '{source.id}': no label (its headline or opening words)")
        elif text is not None:
            problem = label_problem(source.label, source.title, text)
            if problem is not None:
                problems.append(f"source '{source.id}': {problem}")
    cited_sources: dict[str, set[str]] = defaultdict(set)
    for citation in session.exec(
        select(Citation).order_by(col(Citation.fact_id), col(Citation.position))
    ):
        cited_sources[citation.fact_id].add(citation.source_id)
        problem = evidence_problem(citation.quote)
        if problem is not None:
            problems.append(f"fact '{citation.fact_id}' citation {citation.position}: {problem}")
    versions: dict[str, list[VersionSays]] = defaultdict(list)
    for version in session.exec(
        select(DiscrepancyVersion).order_by(
            col(DiscrepancyVersion.discrepancy_id), col(DiscrepancyVersion.position)
        )
    ):
        versions[version.discrepancy_id].append(VersionSays(version.source_id, version.says))
        problem = evidence_problem(version.quote)
        if problem is not None:
            problems.append(
                f"discrepancy '{version.discrepancy_id}' version {version.position}: {problem}"
            )
    kinds: dict[str, str] = {}
    sound: set[str] = set()
    for discrepancy in session.exec(select(Discrepancy).order_by(col(Discrepancy.position))):
        kinds[discrepancy.id] = discrepancy.kind
        problem = discrepancy_problem(versions[discrepancy.id])
        if problem is None:
            sound.add(discrepancy.id)
        else:
            problems.append(f"discrepancy '{discrepancy.id}': {problem}")
    concerning: dict[str, list[str]] = defaultdict(list)
    for link in session.exec(select(DiscrepancyFact)):
        concerning[link.fact_id].append(link.discrepancy_id)
    facts = {f.id: f for f in session.exec(select(Fact).order_by(col(Fact.position)))}
    for fact in facts.values():
        substantive = [d for d in concerning[fact.id] if disputes(kinds[d])]
        expected = derive_status(len(cited_sources[fact.id]), bool(substantive))
        if fact.status != expected:
            problems.append(
                f"fact '{fact.id}': stored status {fact.status}, the rules make it {expected}"
            )
        if fact.status == FactStatus.disputed and not any(d in sound for d in substantive):
            problems.append(
                f"fact '{fact.id}': disputed, but no substantive discrepancy whose versions "
                "cite two different sources that differ concerns it"
            )
    for petition in session.exec(select(Petition).order_by(col(Petition.id))):
        for fact_id in unknown_references(petition.body, facts):
            problems.append(f"petition '{petition.slug}': [fact:{fact_id}] names no fact")
    return problems
