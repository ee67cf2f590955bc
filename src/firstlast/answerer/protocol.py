"""The answerer seam: what the bot needs from an answerer, and what a streaming one adds.

    class Answerer(Protocol):
        def answer(self, question: Question, hits: Sequence[Hit]) -> Draft: ...

The extractive answerer implements :class:`Answerer`; the LLM answerer also implements
:class:`StreamingAnswerer` (text deltas it keeps, then the Draft). The bot streams a non-streaming
answerer's finished reply sentence by sentence, so the widget has one code path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from firstlast.types import Draft, Hit, Question


class Answerer(Protocol):
    def answer(self, question: Question, hits: Sequence[Hit]) -> Draft: ...


@runtime_checkable
class StreamingAnswerer(Protocol):
    """``proceed`` sees the cheap draft first; when it says no, the expensive answer is not made."""

    def answer(self, question: Question, hits: Sequence[Hit]) -> Draft: ...

    def stream(
        self, question: Question, hits: Sequence[Hit], proceed: Callable[[Draft], bool] | None = None
    ) -> Iterator[str | Draft]: ...
