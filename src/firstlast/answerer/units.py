"""Answer units: a section cut where its structure allows, and the units that answer a question.

A *unit* is the smallest piece of a section a reply may quote, always whole:

- a list (numbered steps or bullets, all its items in order) with its lead-in line
  ("To download past invoices:") and the sub-heading it sits under;
- a paragraph, or, when a paragraph is longer than ``long_paragraph`` characters (flat text such as a
  PDF extraction), each of its sentences;
- a table.

:func:`select` keeps the whole section when it fits the budget; otherwise it anchors on the unit that
covers each part of the question best ("How do I X and how do I Y?" has two parts), starts at the
section's beginning when the anchors are within reach of it (a section usually opens with what it is
about and its menu path), and grows around the anchors, unit by unit, while the budget allows. A reply
therefore never starts inside a list.

    >>> units = parse_units(section_text)
    >>> chosen = select(units, question_parts("How do I export my notes?"), budget=700)
    >>> render(chosen.units)
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from firstlast.retriever.text import content_words
from firstlast.sentences import split_sentences

# "- ", "1. ", and the Japanese "・", "１．", "①" (no space needed after those)
_LIST_ITEM = re.compile(
    r"^\s{0,3}(?:[-*+•]\s+|\d{1,2}[.)]\s+|・|[0-9０-９]{1,2}[．）]|[０-９]{1,2}[.)]|[①-⑳])\s*\S"
)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_TABLE_ROW = re.compile(r"^\s*\|")
_RULE = re.compile(r"^\s*(?:[-*_=]\s*){3,}$")  # a horizontal rule or setext underline
_PART = re.compile(
    r"\?\s+|[？?]\s*(?=\S)|;\s+|\s+(?:and|also|plus|or)\s+(?=(?:how|what|where|when|why|which|who|can|could|"
    r"do|does|is|are|should|will|would)\b)",
    re.IGNORECASE,
)
UnitKind = Literal["list", "paragraph", "sentence", "table"]


@dataclass(frozen=True)
class Unit:
    text: str  # markdown; a list keeps one item a line
    kind: UnitKind
    block: int  # the source block: sentences of one paragraph share it and are joined with a space
    heading: str = ""  # the sub-heading inside the section that the unit sits under
    # its content words with the sub-heading's, computed once: units are cached per section, and
    # every answer compares the question with each of them
    words: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", frozenset(content_words(f"{self.heading} {self.text}")))


@dataclass(frozen=True)
class Selection:
    units: tuple[Unit, ...]  # in section order
    complete: bool  # every unit of the section is included
    coverage: float  # share of the question's content words (all parts) found in the units
    part_coverage: tuple[float, ...]  # the same, per part of the question
    # per part, the best coverage by one unit of the whole section (a dense answer, not a long section
    # that mentions every word somewhere)
    unit_coverage: tuple[float, ...] = ()
    trimmed: bool = False  # a single unit longer than the budget was cut at a line or sentence


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) blocks: heading, list, table or text, in order."""
    blocks: list[tuple[str, list[str]]] = []
    after_blank = True
    for raw in re.sub(r"<br\s*/?>", " ", text).splitlines():
        line = raw.rstrip()
        if not line.strip() or _RULE.match(line):
            after_blank = True
            continue
        hard_break = raw.endswith("  ")  # the chunker marks a removed blank line with a hard break
        heading = _HEADING.match(line)
        if heading:
            blocks.append(("heading", [heading.group(1)]))
            after_blank = True
            continue
        kind = "list" if _LIST_ITEM.match(line) else "table" if _TABLE_ROW.match(line) else "text"
        last = blocks[-1] if blocks else None
        if last and kind == "list" and last[0] == "list":
            last[1].append(line.strip())  # a loose list (blank lines between items) is one list
        elif last and kind == "text" and last[0] == "list" and raw[:1] in " \t" and not after_blank:
            last[1][-1] += " " + line.strip()  # an item's indented continuation line
        elif last and kind == last[0] and not after_blank:
            last[1].append(line.strip())
        else:
            blocks.append((kind, [line.strip()]))
        after_blank = hard_break
    return blocks


def parse_units(text: str, long_paragraph: int = 320) -> list[Unit]:
    """The units of a section's text (markdown or flat), in order."""
    blocks = _blocks(text)
    units: list[Unit] = []
    heading = ""
    for i, (kind, lines) in enumerate(blocks):
        if kind == "heading":
            heading = lines[0]
            continue
        if kind in ("list", "table"):
            units.append(Unit("\n".join(lines), kind, i, heading))  # type: ignore[arg-type]
            continue
        paragraph = " ".join(lines)
        sentences = split_sentences(paragraph)
        lead_in = ""
        if (
            i + 1 < len(blocks)
            and blocks[i + 1][0] == "list"
            and sentences
            and sentences[-1].endswith((":", "："))
        ):
            lead_in = sentences.pop()  # "To download past invoices:" belongs to the steps
            blocks[i + 1] = ("list", [lead_in, *blocks[i + 1][1]])
        if not sentences:
            continue
        if len(paragraph) - len(lead_in) > long_paragraph and len(sentences) > 1:
            units.extend(Unit(s, "sentence", i, heading) for s in sentences)
        else:
            units.append(Unit(" ".join(sentences), "paragraph", i, heading))
    return units


def render(units: Sequence[Unit]) -> str:
    """Units as markdown: sentences of one paragraph flow, blocks are paragraphs, sub-headings bold."""
    out = ""
    heading = ""
    previous: Unit | None = None
    for unit in units:
        if unit.heading and unit.heading != heading:
            out += ("\n\n" if out else "") + f"**{unit.heading}**"
            previous = None
        heading = unit.heading
        if previous is not None and previous.block == unit.block and unit.kind == "sentence":
            out += " " + unit.text
        elif unit.kind == "list" and out.endswith(":"):
            out += "\n" + unit.text
        else:
            out += ("\n\n" if out else "") + unit.text
        previous = unit
    return out


def question_parts(question: str) -> list[frozenset[str]]:
    """Content words of each part of a question; one part unless it asks two things."""
    parts = [frozenset(content_words(p)) for p in _PART.split(question)]
    parts = [p for p in parts if p]
    return parts if len(parts) > 1 else [frozenset(content_words(question))]


def _length(units: Sequence[Unit]) -> int:
    return len(render(units))


def select(
    units: Sequence[Unit],
    parts: Sequence[frozenset[str]],
    budget: int,
    heading_words: frozenset[str] = frozenset(),
) -> Selection:
    """The units that answer ``parts`` within ``budget`` characters (see the module docstring)."""
    if not units:
        return Selection((), True, 0.0, tuple(0.0 for _ in parts))
    words = [u.words for u in units]
    best_units = [max(len(p & w) / len(p) if p else 0.0 for w in words) for p in parts]
    if _length(units) <= budget:
        return _selection(units, range(len(units)), words, parts, complete=True, best=best_units)
    chosen: set[int] = set()
    for part in parts:
        scores = [len(part & w) + 0.5 * len(part & heading_words) for w in words]
        best = max(range(len(units)), key=lambda i: (scores[i], -i))
        if scores[best] > 0:
            chosen.add(best)
    anchors = sorted(chosen or {0})
    while len(anchors) > 1 and _total(units, anchors) > budget:
        anchors.pop()  # the later part does not fit beside the first
    if _total(units, anchors) > budget:
        trimmed = _trim(units[anchors[0]], budget)
        cut = _selection([trimmed], [0], [words[anchors[0]]], parts, complete=False, best=best_units)
        return replace(cut, trimmed=True)
    lead = list(range(anchors[-1] + 1))
    if _total(units, lead) <= budget:  # the answer is within reach of the section's start: begin there
        picked = _grow(units, lead, budget)
    else:  # around the anchors with half the budget, then the section's start with the rest
        picked = _grow(units, anchors, budget // 2)
        with_start = sorted({0, *picked})
        if _total(units, with_start) <= budget:
            picked = _grow(units, with_start, budget)
    return _selection(units, picked, words, parts, complete=len(picked) == len(units), best=best_units)


def _cost(units: Sequence[Unit], i: int, prev: int | None) -> int:
    """Characters unit ``i`` adds to :func:`render` after unit ``prev`` (an upper bound)."""
    unit = units[i]
    heading = unit.heading and (prev is None or units[prev].heading != unit.heading)
    glue = 0 if prev is None else 1 if units[prev].block == unit.block and unit.kind == "sentence" else 2
    return len(unit.text) + glue + (len(unit.heading) + 6 if heading else 0)


def _total(units: Sequence[Unit], picked: Sequence[int]) -> int:
    return sum(_cost(units, i, picked[k - 1] if k else None) for k, i in enumerate(picked))


def _grow(units: Sequence[Unit], anchors: Sequence[int], budget: int) -> list[int]:
    """Grow around the anchors unit by unit while the budget allows: forward first (an answer runs on
    after its first sentence), then backward."""
    picked = sorted(anchors)
    total = _total(units, picked)
    for step in (1, -1):
        progress = True
        while progress:
            progress = False
            for anchor in anchors:
                j = anchor
                while j in picked:  # the end of this anchor's span
                    j += step
                if not 0 <= j < len(units):
                    continue
                at = bisect.bisect(picked, j)
                prev = picked[at - 1] if at else None
                after = picked[at] if at < len(picked) else None
                delta = _cost(units, j, prev)
                if after is not None:
                    delta += _cost(units, after, j) - _cost(units, after, prev)
                if total + delta <= budget:
                    picked.insert(at, j)
                    total += delta
                    progress = True
    return picked


def _trim(unit: Unit, budget: int) -> Unit:
    """A unit longer than the budget, cut at its last whole line (list item) or sentence that fits."""
    pieces = unit.text.split("\n") if "\n" in unit.text else split_sentences(unit.text)
    glue = "\n" if "\n" in unit.text else " "
    kept: list[str] = []
    for piece in pieces:
        if len(glue.join([*kept, piece])) > budget:
            break
        kept.append(piece)
    text = glue.join(kept) if kept else unit.text[: max(budget - 1, 1)].rsplit(" ", 1)[0] + "…"
    return Unit(text, unit.kind, unit.block, unit.heading)


def _selection(
    units: Sequence[Unit],
    indices: Sequence[int] | range,
    words: Sequence[frozenset[str]],
    parts: Sequence[frozenset[str]],
    *,
    complete: bool,
    best: Sequence[float],
) -> Selection:
    chosen = tuple(units[i] for i in indices)
    found = frozenset().union(*(words[i] for i in indices)) if len(indices) else frozenset()
    per_part = tuple(len(p & found) / len(p) if p else 0.0 for p in parts)
    everything = frozenset().union(*parts)
    coverage = len(everything & found) / len(everything) if everything else 0.0
    return Selection(chosen, complete, coverage, per_part, tuple(best))
