"""Personal data never enters knowledge: PII planted in customers' questions and agents' answers,
taken through handoff -> agent reply -> suggestion -> approval (one with an edited answer), is absent
from every suggestion shown for approval and from every chunk stored in Chroma."""

from __future__ import annotations

import re

from tests.conftest import post_until_handoff

from firstlast.learning.pii import scrub
from firstlast.wiring import Services

# (customer name in widget attributes, question, agent answer); every planted string is listed below.
CASES = [
    (
        "Priya Raman",
        "Hi, I'm Priya Raman (priya.raman@example.com). Can I use Nimbus Notes on a Chromebook?",
        "Hi Priya, yes: the web app works on Chromebooks in Chrome; no install needed.",
    ),
    (
        "Jürgen Vogel",
        "Hallo, Jürgen here, +49 30 1234567. Does the desktop app support right-to-left languages?",
        "Right-to-left text works in the desktop apps from version 3.2, Jürgen.",
    ),
    (
        "Siobhan O'Brien",
        "My number is +44 7700 900123 and I live at 221B Baker Street, London NW1 6XE. Is there a dark mode?",
        "Dark mode is under Settings → Appearance; I can also call you on +44 7700 900123 if needed.",
    ),
    (
        "Marie Dupont",
        "Je suis Marie Dupont, 12 rue de la Paix, Paris, tel 06 12 34 56 78. Can I print a whole notebook?",
        "Yes Marie, choose File → Print notebook to print every note in it.",
    ),
    (
        "Kenji Sato",
        "Kenji Sato, card 4111 1111 1111 1111. Do you accept JCB cards for Plus?",
        "JCB cards are accepted for Plus and Team on the web checkout. Your card 4111 1111 1111 1111 is fine.",
    ),
    (
        "Ana Souza",
        "Ana Souza, +55 11 91234-5678, IBAN DE89 3704 0044 0532 0130 00. Can I pay Team by bank transfer?",
        "Team plans with 20 or more seats can pay yearly by bank transfer; email billing@nimbus.example, Ana.",
    ),
    (
        "Liam Murphy",
        "I'm Liam Murphy, account number AB-99812, ticket T-48213. How do I merge two notebooks?",
        "Drag one notebook onto the other in the sidebar to merge them, Liam.",
    ),
    (
        "Chen Wei",
        "Order number 778899, booking reference XK7P2Q, phone (555) 123-4567. Can I undo a merge of notebooks?",
        "A merge can be undone for 24 hours with Edit → Undo merge.",
    ),
    (
        "Olivia Smith",
        "olivia.smith+notes@mail.example.co.uk at 1600 Pennsylvania Ave NW, Suite 4. "
        "Does Nimbus Notes have a Linux app?",
        "There is no Linux app yet; the web app works in any modern browser, Olivia.",
    ),
    (
        "Raj Patel",
        "Raj Patel, +91 98765 43210, invoice INV-2024-0042, customer id 77812. Can I add a VAT number to invoices?",
        "Add your VAT number under Settings → Billing → Tax details and it appears on later invoices.",
    ),
]
PLANTED = [
    "Priya Raman", "Priya", "priya.raman@example.com",
    "Jürgen", "+49 30 1234567",
    "Siobhan O'Brien", "Siobhan", "+44 7700 900123", "221B Baker Street", "NW1 6XE",
    "Marie Dupont", "Marie", "12 rue de la Paix", "06 12 34 56 78",
    "Kenji Sato", "Kenji", "4111 1111 1111 1111",
    "Ana Souza", "+55 11 91234-5678", "DE89 3704 0044 0532 0130 00", "billing@nimbus.example",
    "Liam Murphy", "Liam", "AB-99812", "T-48213",
    "778899", "XK7P2Q", "(555) 123-4567",
    "olivia.smith+notes@mail.example.co.uk", "1600 Pennsylvania Ave", "Olivia",
    "Raj Patel", "+91 98765 43210", "INV-2024-0042", "77812",
    "+1 (555) 987-6543", "jane.doe@example.com",
]  # fmt: skip
EDIT_PII = (
    "Merging is drag-and-drop in the sidebar, Liam Murphy; call +1 (555) 987-6543 or jane.doe@example.com."
)


def _leaks(text: str) -> list[str]:
    found = [p for p in PLANTED if p.lower() in text.lower()]
    digits = [d for p in PLANTED for d in re.findall(r"\d{4,}", p) if d in re.sub(r"[ -]", "", text)]
    return found + digits


# Metadata the learning loop writes itself: random ids and a timestamp. Their digits are no data of
# the customer's (a uuid's hex holds "7781" about once in eight runs), so each is checked to be only
# what it claims to be, and everything else stored goes through the digit search.
_GENERATED = {
    "suggestion_id": re.compile(r"[0-9a-f]{32}"),
    "conversation_id": re.compile(r"[0-9a-f]{32}|"),
    "approved_at": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)?"),
    "version": re.compile(r"\d{1,3}"),
}


def _stored_leaks(text: str, title: str, section: str, metadata: dict[str, str]) -> list[str]:
    generated = [f"{k}={v!r} is not a generated value" for k, v in metadata.items()
                 if k in _GENERATED and not _GENERATED[k].fullmatch(v)]  # fmt: skip
    rest = [v for k, v in metadata.items() if k not in _GENERATED]
    return generated + _leaks(" ".join([text, title, section, *rest]))


def test_the_stored_leak_check_ignores_generated_ids_but_catches_planted_data() -> None:
    ids = {
        "suggestion_id": "ab77812c" + "0" * 24,
        "conversation_id": "",
        "approved_at": "2026-12-01T22:13:55.778899",
    }
    assert _stored_leaks("Drag one notebook onto the other.", "How do I merge?", "", ids) == []
    assert set(_stored_leaks("Call customer id 77812.", "How do I merge?", "", ids)) == {"77812"}
    assert set(_stored_leaks("ok", "q", "", {**ids, "approved_by": "lead 778899"})) == {"778899"}
    assert _stored_leaks("ok", "q", "", {**ids, "suggestion_id": "Order 778899"}) != []


def test_at_least_thirty_planted_pii_strings() -> None:
    assert len(PLANTED) >= 30
    scrubbed = " ".join(scrub(f"{q} {a}", [name]) for name, q, a in CASES)
    placeholders = set(re.findall(r"\[[a-z ]+\]", scrubbed))
    kinds = {"[email]", "[phone]", "[card number]", "[bank account]", "[address]", "[reference]", "[name]"}
    assert kinds <= placeholders


def test_planted_pii_reaches_neither_suggestions_nor_the_knowledge_store(services: Services) -> None:
    desk, learning = services.desk, services.learning
    suggestions = []
    for name, question, answer in CASES:
        conv, _ = desk.start("chat", {"attributes": {"customer_name": name, "plan": "plus"}})
        posted = post_until_handoff(desk, conv.id, question)
        assert posted.handoff_id, question  # nothing in an empty knowledge base: a person answers
        _handoff, suggestion = desk.reply(posted.handoff_id, "sam", answer)
        if suggestion is not None:
            suggestions.append(suggestion)
    assert len(suggestions) >= 8  # most cases carry general knowledge once the PII is gone
    for s in suggestions:
        shown = " ".join([s.question, s.answer, s.prompt, *(src.question + src.answer for src in s.sources)])
        assert _leaks(shown) == [], shown
    # Approve every one; the merge question gets an edited answer with new personal data.
    for s in suggestions:
        edit = EDIT_PII if "merge" in s.question.lower() and "undo" not in s.question.lower() else None
        approved = learning.approve(s.id, approver="lead", answer=edit)
        if edit:
            assert approved.status == "edited" and _leaks(approved.final_answer or "") == [], approved
    chunks = services.store.chunks()
    assert {c.doc_id for c in chunks} == {s.learned_doc_id for s in learning.list(status=None)} - {None}
    for chunk in chunks:  # every stored chunk, with its title, heading and metadata
        assert _stored_leaks(chunk.text, chunk.title, chunk.section, dict(chunk.metadata)) == [], chunk


def test_a_question_that_is_nothing_but_personal_data_is_blocked_not_scrubbed_into_nonsense(
    services: Services,
) -> None:
    conv, _ = services.desk.start("chat", {"attributes": {"customer_name": "Dana Whitfield"}})
    posted = post_until_handoff(
        services.desk, conv.id, "Dana Whitfield, dana@example.com, +44 20 7946 0958, order #123456"
    )
    assert posted.handoff_id
    _handoff, suggestion = services.desk.reply(
        posted.handoff_id, "sam", "Thanks Dana, the parcel for order #123456 left our warehouse today."
    )
    assert suggestion is None and services.learning.list() == []
    assert services.store.count() == 0
