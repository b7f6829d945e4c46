"""SMS in one GSM-7 segment; bidi and zero-width characters gone from every channel."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.notify.format import discord_payload, email_subject, slack_payload, sms_text, sns_message
from chalicelib.notify.gsm7 import EXTENSION, fit_segment, septets, to_gsm7
from chalicelib.notify.notice import Notice

INVISIBLE = "\u202e\u2066\u200b\u200d\ufeff\u061c\u200f"


def notice(title: str, down: float | None = None) -> Notice:
    return Notice("opened", "web", title, lines=(f"21:03:04 {title}",), downtime_s=down)


def test_typography_and_accents_become_gsm7():
    assert to_gsm7("“web” — down… Straße ½ 東京") == '"web" - down... Straße ? ??'
    assert to_gsm7("ÀÉÎõű") == "AÉIou"


def test_extension_characters_count_twice_and_a_cut_says_so():
    assert septets("€{}") == 6
    cut = fit_segment("{" * 100, 160)
    assert cut.endswith("...") and septets(cut) <= 160


def test_an_emoji_title_is_one_segment_with_its_downtime():
    text = sms_text(notice("web \U0001f525 " * 40, down=192))
    assert septets(text) <= 160 and to_gsm7(text) == text
    assert text.endswith("(down 3m 12s)")


def test_bidi_and_zero_width_characters_reach_no_channel():
    hostile = notice(f"web{INVISIBLE} is DOWN {INVISIBLE}ok")
    texts = [
        json.dumps(sns_message(hostile), ensure_ascii=False),
        email_subject(hostile),
        str(slack_payload(hostile)["text"]),
        str(discord_payload(hostile)["content"]),
    ]
    for text in texts:
        assert not set(text) & set(INVISIBLE), text
    assert sms_text(hostile) == "autoheal: web is DOWN ok"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_gsm7_and_fits(title):
    text = sms_text(notice(title, down=59))
    assert all(c in EXTENSION or to_gsm7(c) == c for c in text)
    assert septets(text) <= 160
