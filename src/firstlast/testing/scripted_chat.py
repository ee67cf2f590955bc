"""A scripted chat model behind langchain's chat-model interface, for deterministic tests of the LLM
answerer (the grounding guard, voice post-processing, fallbacks) without a model.

``reply`` is a fixed text or a function of the prompt (system, user) that returns one; the text is
streamed in small pieces, like a real server's token deltas. Every prompt is kept in ``prompts``.

    model = ScriptedChatModel(reply=lambda system, user: "You can pay yearly [1].")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

Script = Callable[[str, str], str]


class ScriptedChatModel(BaseChatModel):
    reply: str | Script = ""
    piece_chars: int = 4  # characters per streamed delta
    fail_with: str = ""  # raise RuntimeError(fail_with) after the first delta, when set
    prompts: list[tuple[str, str]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _text(self, messages: list[BaseMessage]) -> str:
        system = "\n".join(str(m.content) for m in messages if m.type == "system")
        user = "\n".join(str(m.content) for m in messages if m.type == "human")
        self.prompts.append((system, user))
        return self.reply(system, user) if callable(self.reply) else self.reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._text(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._text(messages)
        for i in range(0, len(text), self.piece_chars):
            if self.fail_with and i > 0:
                raise RuntimeError(self.fail_with)
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[i : i + self.piece_chars]))
