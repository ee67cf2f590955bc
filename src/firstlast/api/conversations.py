"""Routes for the chat widget: open a conversation, send messages, read the transcript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status

from firstlast.api.deps import CallerScope, ServicesDep
from firstlast.api.schemas import (
    CitationOut,
    ConversationCreate,
    ConversationCreated,
    ConversationOut,
    MessageCreate,
    MessageOut,
    ReplyOut,
)

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
TokenHeader = Annotated[str | None, Header(description="The token returned when the conversation was opened")]


def _authorize(services: ServicesDep, scope: str, conversation_id: str, token: str | None) -> None:
    if scope != "widget":
        services.desk.conversation(conversation_id)  # 404 if missing
        return
    if not token or not services.desk.check_token(conversation_id, token):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "missing or wrong X-Conversation-Token for this conversation"
        )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationCreated)
def open_conversation(
    body: ConversationCreate, services: ServicesDep, _scope: CallerScope
) -> ConversationCreated:
    conversation, token = services.desk.start(body.channel, body.context.model_dump())
    return ConversationCreated(**ConversationOut.of(conversation).model_dump(), token=token)


@router.get("/{conversation_id}", response_model=ConversationOut)
def read_conversation(
    conversation_id: str, services: ServicesDep, scope: CallerScope, x_conversation_token: TokenHeader = None
) -> ConversationOut:
    _authorize(services, scope, conversation_id, x_conversation_token)
    return ConversationOut.of(services.desk.conversation(conversation_id))


@router.post("/{conversation_id}/messages", response_model=ReplyOut)
def send_message(
    conversation_id: str,
    body: MessageCreate,
    services: ServicesDep,
    scope: CallerScope,
    x_conversation_token: TokenHeader = None,
) -> ReplyOut:
    _authorize(services, scope, conversation_id, x_conversation_token)
    context = body.context.model_dump(exclude_none=True) if body.context else None
    posted = services.desk.post(conversation_id, body.text, context)
    reply = posted.reply
    return ReplyOut(
        conversation_id=posted.conversation_id,
        message=MessageOut.of(posted.customer_message),
        reply=MessageOut.of(reply) if reply else None,
        decision=reply.decision if reply else None,
        reason=reply.reason if reply else None,
        confidence=reply.confidence if reply else None,
        citations=[CitationOut.of(c) for c in reply.citations] if reply else [],
        handoff_id=posted.handoff_id,
    )
