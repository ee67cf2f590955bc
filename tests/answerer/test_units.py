"""Answer units: whole procedures, lists with their lead-in, paragraphs, and the selection of units."""

from __future__ import annotations

from firstlast.answerer.units import parse_units, question_parts, render, select

INVOICES = """We email a receipt to your billing email address after every successful payment. To download past invoices:

1. Go to **Settings → Billing → Invoices**.
2. Find the payment you need. Invoices are listed newest first.
3. Click **Download PDF**.

Each invoice shows the invoice number, date, plan, billing period, tax and total paid.

### Business purchases in the EU or UK
If your business has a valid VAT ID, add it under **Settings → Billing → Billing details** before your next payment.

- **Delete permanently:** right-click a note in the Trash.
- **Empty Trash:** click **Empty Trash** at the top of the Trash list.
"""


def test_a_numbered_procedure_is_one_unit_with_its_lead_in_and_every_step_in_order():
    units = parse_units(INVOICES)
    steps = next(u for u in units if u.kind == "list")
    assert steps.text.splitlines() == [
        "To download past invoices:",
        "1. Go to **Settings → Billing → Invoices**.",
        "2. Find the payment you need. Invoices are listed newest first.",
        "3. Click **Download PDF**.",
    ]
    assert units[0].text == "We email a receipt to your billing email address after every successful payment."


def test_a_sub_heading_belongs_to_the_units_under_it_and_is_rendered_bold():
    units = parse_units(INVOICES)
    vat = next(u for u in units if "VAT ID" in u.text)
    assert vat.heading == "Business purchases in the EU or UK"
    assert render([vat]).startswith("**Business purchases in the EU or UK**\n\nIf your business")


def test_a_long_flat_paragraph_is_cut_into_sentence_units_that_render_as_one_paragraph():
    flat = " ".join(f"Sentence number {i} talks about the picture mode settings." for i in range(12))
    units = parse_units(flat, long_paragraph=200)
    assert len(units) == 12 and {u.kind for u in units} == {"sentence"}
    assert render(units[:3]) == " ".join(u.text for u in units[:3])


def test_a_section_that_fits_is_quoted_whole():
    units = parse_units(INVOICES)
    chosen = select(units, question_parts("where can I download my invoice"), budget=2000)
    assert chosen.complete and chosen.units == tuple(units)


def test_a_cut_selection_keeps_the_whole_procedure_and_never_starts_inside_a_list():
    units = parse_units(INVOICES)
    chosen = select(units, question_parts("where can I download my invoice as a PDF"), budget=330)
    text = render(chosen.units)
    assert not chosen.complete
    assert "To download past invoices:\n1. Go to" in text and "3. Click **Download PDF**." in text
    assert len(text) <= 330
    for unit in chosen.units:  # every unit is quoted whole, so no reply starts at "2." or "3."
        assert unit in units


def test_a_two_part_question_anchors_on_a_unit_for_each_part():
    units = parse_units(INVOICES)
    parts = question_parts("How do I download an invoice and how do I empty the trash?")
    assert len(parts) == 2
    chosen = select(units, parts, budget=420)
    text = render(chosen.units)
    assert "Download PDF" in text and "Empty Trash" in text
    assert min(chosen.part_coverage) >= 0.5


def test_a_single_unit_longer_than_the_budget_is_cut_at_a_whole_step():
    units = parse_units(INVOICES)
    steps = next(u for u in units if u.kind == "list")
    chosen = select([steps], question_parts("download invoices"), budget=120)
    assert chosen.units[0].text.splitlines() == [
        "To download past invoices:",
        "1. Go to **Settings → Billing → Invoices**.",
    ]


def test_horizontal_rules_and_html_breaks_are_not_quoted():
    units = parse_units("Intro line.\n\n---\n\nNext line<br>continues.")
    assert [u.text for u in units] == ["Intro line.", "Next line continues."]


def test_question_parts_split_only_where_a_second_question_starts():
    assert len(question_parts("What are dynamic and standard mode?")) == 1
    assert len(question_parts("How to connect to Wi-Fi and how to check the connection?")) == 2
    assert len(question_parts("Is it free? Can I pay yearly?")) == 2


def test_a_japanese_procedure_with_full_width_numbers_is_one_unit_with_its_lead_in():
    text = "転入の手続きは次のとおりです：\n１．市民課の窓口で転入届を出します。\n２．本人確認書類を見せます。\n\n詳しくは市民課へお問い合わせください。"
    units = parse_units(text)
    assert [u.kind for u in units] == ["list", "paragraph"]
    assert units[0].text.splitlines() == [
        "転入の手続きは次のとおりです：",
        "１．市民課の窓口で転入届を出します。",
        "２．本人確認書類を見せます。",
    ]
    chosen = select(units, question_parts("転入届はどこで出しますか"), budget=70)
    assert render(chosen.units).startswith("転入の手続きは次のとおりです：\n１．")


def test_a_flattened_korean_answer_is_cut_into_whole_sentences():
    text = (
        "간이과세자인 경우 통신판매업 등록번호를 입력하지 않아도 됩니다.다만, 기준 초과 시 신고 안내가 진행되며, "
        "[판매자정보 > 정보변경 신청] 메뉴에서 입력 가능합니다. 자세한 내용은 고객센터로 문의해 주세요. "
        "신고번호는 사업자등록 후 발급됩니다. 발급에는 영업일 기준 3일이 걸립니다."
    )
    units = parse_units(text, long_paragraph=100)
    assert [u.text for u in units][:2] == [
        "간이과세자인 경우 통신판매업 등록번호를 입력하지 않아도 됩니다.",
        "다만, 기준 초과 시 신고 안내가 진행되며, [판매자정보 > 정보변경 신청] 메뉴에서 입력 가능합니다.",
    ]
    chosen = select(units, question_parts("신고번호 발급은 얼마나 걸리나요"), budget=60)
    assert all(u.text.endswith(("다.", "요.")) for u in chosen.units)  # whole sentences only
