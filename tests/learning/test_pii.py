"""Personal data never becomes knowledge: scrub() on planted PII, and ordinary text left alone."""

from __future__ import annotations

import re

import pytest

from firstlast.learning.pii import contains_pii, scrub

# (kind, planted string, sentence around it)
PLANTED = [
    ("email", "jane.doe@example.com", "Please reply to {} about my refund."),
    ("email", "first.last+billing@mail.example.co.uk", "My login is {} since last year."),
    ("email", "taro.yamada@example.jp", "連絡先は {} です。"),
    ("phone", "+44 20 7946 0958", "Call me back on {} after lunch."),
    ("phone", "+44 7700 900123", "My mobile is {} if that helps."),
    ("phone", "(555) 123-4567", "You can reach me at {} today."),
    ("phone", "555-123-4567", "Text {} when it is fixed."),
    ("phone", "555.123.4567", "Office line {} works too."),
    ("phone", "+1 (555) 987-6543", "Or try {} in the evening."),
    ("phone", "07700 900123", "UK number {} is best."),
    ("phone", "+33 1 23 45 67 89", "From France, dial {} instead."),
    ("phone", "+81 3-1234-5678", "電話は {} までお願いします。"),
    ("phone", "090-1234-5678", "携帯は {} です。"),
    ("phone", "010-1234-5678", "제 번호는 {} 입니다."),
    ("card", "4111 1111 1111 1111", "I paid with card {} yesterday."),
    ("card", "5500-0000-0000-0004", "The charge on {} is wrong."),
    ("card", "3782 822463 10005", "My Amex {} was billed twice."),
    ("card", "6011111111111117", "Card {} was declined."),
    ("card", "4012-8888-8888-1881", "Please refund to {} instead."),
    ("iban", "GB82 WEST 1234 5698 7654 32", "Send the refund to {} please."),
    ("iban", "DE89 3704 0044 0532 0130 00", "My IBAN is {} for the transfer."),
    ("iban", "NL91ABNA0417164300", "Use account {} for refunds."),
    ("reference", "order #123456", "About my {} that never arrived."),
    ("reference", "Order number 778899", "{} was charged twice."),
    ("reference", "account number AB-99812", "My {} is locked."),
    ("reference", "invoice INV-2024-0042", "I need a copy of {} for taxes."),
    ("reference", "ticket T-48213", "This is about {} from last week."),
    ("reference", "Ticket ID: TK-2024-0042", "{} is still open."),
    ("reference", "case #5566778", "Following up on {} now."),
    ("reference", "booking reference XK7P2Q", "My {} is missing."),
    ("reference", "customer id 77812", "My {} if you need it."),
    ("number", "4485201994", "The code on the letter was {} I think."),
]
NAMES = ["Priya Raman", "Jürgen", "O'Brien"]
NAMED = [
    "Hi, this is Priya Raman and I need help with sync.",
    "Thanks, priya raman, that fixed it.",
    "Jürgen here: my export failed.",
    "Please ask Siobhan O'Brien to call me.",
]


def digit_groups(text: str) -> list[str]:
    return re.findall(r"\d{2,}", text)


@pytest.mark.parametrize(("kind", "planted", "sentence"), PLANTED, ids=[p[1] for p in PLANTED])
def test_planted_pii_does_not_survive(kind, planted, sentence):
    text = sentence.format(planted)
    scrubbed = scrub(text)
    assert planted not in scrubbed
    for group in digit_groups(planted):  # no part of the number leaks either
        assert group not in scrubbed, f"{group!r} of {planted!r} survived in {scrubbed!r}"
    assert contains_pii(text)
    # the sentence around it is kept
    for word in re.findall(r"[A-Za-z]{4,}", sentence):
        assert word in scrubbed


def test_at_least_thirty_planted_strings_across_every_kind():
    assert len(PLANTED) + len(NAMES) >= 30
    assert {kind for kind, _, _ in PLANTED} == {"email", "phone", "card", "iban", "reference", "number"}


@pytest.mark.parametrize(
    ("kind", "placeholder"),
    [("email", "[email]"), ("phone", "[phone]"), ("card", "[card number]"), ("iban", "[bank account]")],
)
def test_placeholders_say_what_was_removed(kind, placeholder):
    for k, planted, sentence in PLANTED:
        if k == kind:
            assert placeholder in scrub(sentence.format(planted)), planted


def test_all_planted_pii_in_one_message_is_removed():
    message = " ".join(sentence.format(planted) for _, planted, sentence in PLANTED) + " " + " ".join(NAMED)
    scrubbed = scrub(message, names=NAMES)
    for _, planted, _ in PLANTED:
        assert planted not in scrubbed
    for name in NAMES:
        assert name.lower() not in scrubbed.lower()


@pytest.mark.parametrize("text", NAMED)
def test_customer_names_passed_in_are_removed_case_insensitively(text):
    scrubbed = scrub(text, names=NAMES)
    assert "[name]" in scrubbed
    for name in NAMES:
        assert name.lower() not in scrubbed.lower()


def test_very_short_names_are_ignored_rather_than_blanking_letters():
    assert scrub("A note about sync.", names=["A", " "]) == "A note about sync."


@pytest.mark.parametrize(
    "text",
    [
        "The Plus plan costs $8 per month",
        "Plus is $8 per month or $80 per year, and Team is $12 per user per month.",
        "Annual payments can be refunded within 14 days.",
        "Refunds usually appear within 5–10 business days.",
        "Update to version 2.3 or later; version 10.2.1 fixed sync.",
        "The Free plan syncs on up to 2 devices and 1 GB of storage.",
        "We're here Monday to Friday, 8:00–18:00 UTC.",
        "Prices changed between 2023-2024.",
        "Open Settings → Billing → Invoices to download your invoice.",
        "Works on Windows 11 and macOS 14.5.",
        "Email support from the address on your account.",
        "Your order history is in Google Play.",
        "パスワードは設定から変更できます。",
    ],
)
def test_ordinary_support_text_is_unchanged(text):
    assert scrub(text) == text
    assert not contains_pii(text)
