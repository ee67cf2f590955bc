"""The chat widget's words in en/ja/ko, overridden per language by the voice profile's ``widget``
table (``examples/voice.yaml``). ``{persona}`` and ``{company}`` are filled in from the profile.

    widget_strings(profile, "ja")["send"]  # -> "送信"
"""

from __future__ import annotations

from firstlast.answerer.brand_voice import VoiceProfile

DEFAULTS: dict[str, dict[str, str]] = {
    "en": {
        "launcher": "Chat with us",
        "title": "{persona} · {company}",
        "welcome": "Hi! Ask me anything about {company}.",
        "placeholder": "Type your question…",
        "send": "Send",
        "close": "Close chat",
        "yes": "Yes",
        "no": "No",
        "sources": "Sources",
        "agent_joined": "A member of our team has joined.",
        "csat_prompt": "How did we do?",
        "csat_comment": "Anything to add? (optional)",
        "csat_submit": "Send rating",
        "csat_thanks": "Thanks for your feedback!",
        "error": "Something went wrong. Please try again.",
        "resolved": "This conversation is resolved. Write again any time.",
        "suggested": "Suggested articles",
    },
    "ja": {
        "launcher": "チャットで質問",
        "title": "{persona} · {company}",
        "welcome": "こんにちは！{company}について何でも聞いてください。",
        "placeholder": "質問を入力してください…",
        "send": "送信",
        "close": "チャットを閉じる",
        "yes": "はい",
        "no": "いいえ",
        "sources": "参考情報",
        "agent_joined": "担当者が参加しました。",
        "csat_prompt": "対応はいかがでしたか？",
        "csat_comment": "ご意見があればどうぞ（任意）",
        "csat_submit": "評価を送信",
        "csat_thanks": "ご意見ありがとうございました！",
        "error": "エラーが発生しました。もう一度お試しください。",
        "resolved": "この会話は解決済みです。いつでもまたどうぞ。",
        "suggested": "おすすめの記事",
    },
    "ko": {
        "launcher": "채팅 문의",
        "title": "{persona} · {company}",
        "welcome": "안녕하세요! {company}에 대해 무엇이든 물어보세요.",
        "placeholder": "질문을 입력하세요…",
        "send": "보내기",
        "close": "채팅 닫기",
        "yes": "네",
        "no": "아니요",
        "sources": "출처",
        "agent_joined": "상담원이 참여했습니다.",
        "csat_prompt": "상담은 어떠셨나요?",
        "csat_comment": "덧붙일 말씀이 있나요? (선택)",
        "csat_submit": "평가 보내기",
        "csat_thanks": "의견 감사합니다!",
        "error": "문제가 발생했습니다. 다시 시도해 주세요.",
        "resolved": "이 대화는 해결되었습니다. 언제든 다시 문의하세요.",
        "suggested": "추천 도움말",
    },
}
LANGUAGES = tuple(DEFAULTS)


def widget_strings(profile: VoiceProfile, locale: str | None) -> dict[str, str]:
    """The widget's words for ``locale`` ("ja", "ko-KR", ...; English when unknown): built-in English,
    the profile's English, then the built-in and the profile's words of that language."""
    lang = (locale or "en").split("-")[0].lower()
    lang = lang if lang in LANGUAGES else "en"
    merged = {**DEFAULTS["en"], **profile.widget.get("en", {})}
    if lang != "en":
        merged |= {**DEFAULTS[lang], **profile.widget.get(lang, {})}
    fill = {"{persona}": profile.persona, "{company}": profile.company}
    for key, text in merged.items():
        for mark, value in fill.items():
            text = text.replace(mark, value)
        merged[key] = text
    return {"lang": lang, **merged}
