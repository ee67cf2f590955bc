"""The package's one sentence splitter."""

from __future__ import annotations

from firstlast.sentences import split_sentences


def test_sentence_ends_lines_and_japanese_full_stops_split():
    text = "First one. Second one!\n- item a\n- item b\nLast? 設定を開きます。保存します。"
    assert split_sentences(text) == [
        "First one.",
        "Second one!",
        "- item a",
        "- item b",
        "Last?",
        "設定を開きます。",
        "保存します。",
    ]


def test_korean_sentences_split_after_their_endings():
    text = "비밀번호를 변경하려면 설정으로 이동합니다. 그 다음 저장을 누르세요! 완료되었나요?"
    assert split_sentences(text) == [
        "비밀번호를 변경하려면 설정으로 이동합니다.",
        "그 다음 저장을 누르세요!",
        "완료되었나요?",
    ]


def test_abbreviations_initials_decimals_and_lowercase_continuations_do_not_split():
    text = "Use a key, e.g. a YubiKey. Version 1.5 ships today. Ask J. Smith, Dr. Who etc. and more."
    assert split_sentences(text) == [
        "Use a key, e.g. a YubiKey.",
        "Version 1.5 ships today.",
        "Ask J. Smith, Dr. Who etc. and more.",
    ]


def test_list_numbers_run_together_on_one_line_start_their_own_sentences():
    text = "1. Install an authenticator app. 2. In Nimbus Notes, go to Settings. 3. Click Save."
    assert split_sentences(text) == [
        "1. Install an authenticator app.",
        "2. In Nimbus Notes, go to Settings.",
        "3. Click Save.",
    ]


def test_closing_quotes_stay_with_their_sentence_and_empty_text_gives_nothing():
    assert split_sentences('Click "Save." Then close it.') == ['Click "Save."', "Then close it."]
    assert split_sentences("  \n ") == []


def test_a_korean_full_stop_without_a_space_still_ends_a_sentence_but_a_decimal_does_not():
    assert split_sentences("입력하지 않아도 됩니다.다만, 1.5배가 적용됩니다.") == [
        "입력하지 않아도 됩니다.",
        "다만, 1.5배가 적용됩니다.",
    ]
