"""Proactive help (issue #14, off by default: ``FIRSTLAST_INSIGHTS__PROACTIVE=true``): the widget asks
for articles for the page it opened on, and reports which one the customer opened.

    GET  /v1/conversations/{id}/articles?page_title=Invoices      (page_url: the conversation's)
    POST /v1/conversations/{id}/articles/{doc_id}/click
    GET  /v1/analytics/proactive?since=30d                         (agent, admin: click-through)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, status

from firstlast.api.analytics import Since, Until, _period
from firstlast.api.deps import AgentScope, CallerScope, ServicesDep
from firstlast.api.schemas import errors
from firstlast.insights.proactive import CLICKED, SHOWN, Article, ClickThrough, ProactiveHelp
from firstlast.types import MAX_NOTE_CHARS

router = APIRouter(tags=["proactive help"], responses=errors(401, 403, 404, 409, 413, 422, 429, 503))
TokenHeader = Annotated[str | None, Header(description="The token returned when the conversation was opened")]


def _help(services: ServicesDep, scope: str, conversation_id: str, token: str | None) -> ProactiveHelp:
    if services.proactive is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "proactive help is off (FIRSTLAST_INSIGHTS__PROACTIVE)"
        )
    services.desk.conversation(conversation_id)  # 404 when missing
    if scope == "widget" and (not token or not services.desk.check_token(conversation_id, token)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "missing or wrong X-Conversation-Token for this conversation"
        )
    return services.proactive


@router.get("/v1/conversations/{conversation_id}/articles", response_model=list[Article])
def articles(
    conversation_id: str,
    services: ServicesDep,
    scope: CallerScope,
    page_url: str | None = Query(None, max_length=MAX_NOTE_CHARS, description="Default: the conversation's"),
    page_title: str = Query("", max_length=300),
    x_conversation_token: TokenHeader = None,
) -> list[Article]:
    """Articles for the customer's page, before they type; the show is recorded for click-through."""
    helper = _help(services, scope, conversation_id, x_conversation_token)
    url = page_url or str(services.desk.conversation(conversation_id).context.get("page_url") or "")
    found = helper.articles(url, page_title) if url or page_title else []
    if found:
        helper.record(conversation_id, SHOWN, page_url=url, doc_ids=[a.doc_id for a in found])
    return found


@router.post("/v1/conversations/{conversation_id}/articles/{doc_id:path}/click", status_code=204)
def click(
    conversation_id: str,
    doc_id: str,
    services: ServicesDep,
    scope: CallerScope,
    x_conversation_token: TokenHeader = None,
) -> None:
    helper = _help(services, scope, conversation_id, x_conversation_token)
    if len(doc_id) > 512 or doc_id not in helper.shown(conversation_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"article {doc_id} was not suggested in this conversation"
        )
    helper.record(conversation_id, CLICKED, doc_id=doc_id)


@router.get("/v1/analytics/proactive", response_model=ClickThrough)
def click_through(
    services: ServicesDep, _scope: AgentScope, since: str = Since, until: str | None = Until
) -> ClickThrough:
    """Conversations shown suggested articles, and the share that opened one."""
    if services.proactive is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "proactive help is off (FIRSTLAST_INSIGHTS__PROACTIVE)"
        )
    start, end = _period(since, until)
    return services.proactive.click_through(start, end)
