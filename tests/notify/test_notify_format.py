"""Formatting: channel limits, escaping, and payload shapes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.notify import Notice, discord_payload, email_subject, slack_payload, sns_message
from chalicelib.notify.format import (
    DISCORD_LIMIT,
    SLACK_LIMIT,
    clip,
    duration,
    fit,
    one_line,
    sms_text,
)
from chalicelib.notify.gsm7 import septets, to_gsm7

LONG_UNICODE = "web 高可用性サービス 🔥🔥 est en panne — ünïcödé " * 20
HOSTILE = "<!channel> @everyone @here <@U123> & <https://evil.example|click> *bold* `x` ||spoiler||"
FAST = settings(max_examples=200, deadline=None)

titles = st.text(max_size=400)
stories = st.lists(st.text(max_size=400), max_size=30)
kinds = st.sampled_from(["opened", "action", "recovered", "escalated", "budget_exhausted", "reminder"])


def make(title="web is DOWN", lines=(), **kw) -> Notice:
    return Notice(kind=kw.pop("kind", "opened"), incident=kw.pop("incident", "web"), title=title,
                  lines=tuple(lines), **kw)  # fmt: skip


class TestNotice:
    def test_unknown_kind(self):
        with pytest.raises(ValueError, match="^kind: expected one of opened, action, recovered, escalated, "):
            make(kind="exploded")

    def test_lines_become_a_tuple(self):
        assert make(lines=["a", "b"]).lines == ("a", "b")

    def test_at_defaults_to_now_in_utc(self):
        before = datetime.now(UTC)
        at = make().at
        assert at.utcoffset() == timedelta(0)
        assert before <= at <= datetime.now(UTC)


class TestSns:
    def test_structure(self, notice):
        message = sns_message(notice)
        assert message == {
            "default": message["email"],  # subscribers of other protocols get the whole story
            "email": (
                "web is DOWN\n"
                "\n"
                "Incident: web\n"
                "What:     Incident opened\n"
                "When:     2024-05-01 21:03:04 UTC\n"
                "Downtime: 3m 12s\n"
                "Command:  1234-abcd\n"
                "\n"
                "What happened so far:\n"
                "  21:03:04 DOWN: timeout after 5s\n"
                "  21:03:10 restart sent to i-0abc1234def567890 (command 1234-abcd)\n"
                "\n"
                "-- autoheal"
            ),
            "sms": "autoheal: web is DOWN (down 3m 12s)",
        }
        assert json.loads(json.dumps(message)) == message

    def test_email_has_the_whole_story_in_order(self, notice):
        email = sns_message(notice)["email"]
        first, second = notice.lines
        assert email.index(first) < email.index(second)
        for fact in ("web is DOWN", "Incident opened", "2024-05-01 21:03:04 UTC", "3m 12s", "1234-abcd"):
            assert fact in email

    def test_email_of_a_very_long_story_keeps_its_ends(self):
        lines = [f"line {i} " + "x" * 500 for i in range(5000)]
        email = sns_message(make(lines=lines))["email"]
        assert len(email) <= 20_000
        assert "line 0 " in email and "line 4999 " in email and "more lines" in email

    def test_sms(self, notice):
        assert sms_text(notice) == "autoheal: web is DOWN (down 3m 12s)"

    def test_sms_of_a_long_unicode_title_keeps_the_downtime(self, notice):
        sms = sns_message(replace(notice, title=LONG_UNICODE))["sms"]
        assert len(sms) <= 160 and "\n" not in sms
        assert sms.endswith("... (down 3m 12s)")

    @FAST
    @given(title=titles, down=st.none() | st.floats(allow_nan=True, allow_infinity=True))
    def test_sms_is_one_gsm7_segment(self, title, down):
        sms = sns_message(make(title=title, downtime_s=down))["sms"]
        assert septets(sms) <= 160 and to_gsm7(sms) == sms
        assert one_line(sms) == sms
        if len(one_line(title)) > 100:
            assert "..." in sms  # cut, and says so


class TestSubject:
    def test_plain(self, notice):
        assert email_subject(notice) == "[autoheal] web is DOWN"

    def test_a_title_of_accents_alone_leaves_no_trailing_space(self):
        assert email_subject(make(title="\u00af")) == "[autoheal]"

    def test_long_unicode(self):
        subject = email_subject(make(title=LONG_UNICODE))
        assert len(subject) < 100 and subject.isascii() and subject.endswith("...")
        assert "panne" in subject and "unicode" in subject  # accents dropped, not the letters

    @FAST
    @given(titles)
    def test_rules(self, title):
        subject = email_subject(make(title=title))
        assert 0 < len(subject) < 100
        assert subject.isascii() and subject.isprintable()
        assert subject == "[autoheal]" or subject.startswith("[autoheal] ")
        assert subject == subject.strip()


class TestSlack:
    def test_shape(self, notice):
        payload = slack_payload(notice)
        assert set(payload) == {"text", "unfurl_links", "unfurl_media"}
        text = payload["text"]
        assert text.splitlines()[0] == "\U0001f534 *web is DOWN*"
        assert "web \u00b7 Incident opened \u00b7 2024-05-01 21:03:04 UTC \u00b7 down 3m 12s" in text
        assert "\u2022 21:03:04 DOWN: timeout after 5s" in text

    def test_escaping(self):
        text = slack_payload(make(title=HOSTILE, lines=[HOSTILE], incident="a&b"))["text"]
        assert "<" not in text and ">" not in text
        assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;" in text
        assert "a&amp;b" in text
        assert "&amp;amp;" not in text  # escaped once

    def test_length(self):
        payload = slack_payload(make(title="&" * 10_000, lines=["<>" * 10_000] * 50, incident="&" * 999))
        assert len(payload["text"]) <= SLACK_LIMIT


class TestDiscord:
    def test_shape(self, notice):
        payload = discord_payload(notice)
        assert payload["allowed_mentions"] == {"parse": []}
        assert payload["content"].splitlines()[0] == "\U0001f534 **web is DOWN**"

    def test_mentions_and_markdown_are_neutralised(self):
        content = discord_payload(make(title=HOSTILE, lines=["@everyone look"]))["content"]
        assert "@everyone" not in content.replace("\\@everyone", "")
        assert "\\@here" in content and "\\*bold\\*" in content and "\\|\\|spoiler" in content

    def test_long_story_fits_and_keeps_first_and_latest(self):
        lines = [f"{i:04d} " + "step " * 40 for i in range(500)]
        content = discord_payload(make(title="T" * 5000, lines=lines))["content"]
        assert len(content) <= DISCORD_LIMIT
        assert "0000 " in content and "0499 " in content and "more lines" in content

    @FAST
    @given(title=titles, lines=stories, kind=kinds, incident=st.text(max_size=300))
    def test_always_within_limits(self, title, lines, kind, incident):
        n = make(title=title, lines=lines, kind=kind, incident=incident, command_id=incident or None)
        assert len(discord_payload(n)["content"]) <= DISCORD_LIMIT
        assert len(slack_payload(n)["text"]) <= SLACK_LIMIT
        message = sns_message(n)
        assert message["default"] == message["email"] and message["email"].endswith("\n-- autoheal")
        assert len(message["sms"]) <= 160 and message["sms"].split(" ", 1)[0] == "autoheal:"


class TestHelpers:
    def test_clip_prefers_a_word_boundary(self):
        assert clip("the quick brown fox", 12) == "the quick\u2026"
        assert clip("short", 10) == "short"
        assert clip("x" * 50, 10) == "x" * 9 + "\u2026"  # no boundary: cut hard, and say so

    def test_one_line(self):
        assert one_line(" a\nb\r\n\tc\u2028d\x00e ") == "a b c d e"

    def test_fit(self):
        assert fit(["a", "b"], 100) == ["a", "b"]
        kept = fit([f"line{i:02d}" for i in range(40)], 120)
        assert kept[0] == "line00" and kept[-1] == "line39" and "more lines" in kept[1]
        assert sum(len(x) + 1 for x in kept) <= 120

    @pytest.mark.parametrize(
        "seconds,text",
        [(None, ""), (-1, ""), (float("nan"), ""), (0, "0s"), (59.4, "59s"), (192.4, "3m 12s"),
         (7500, "2h 05m"), (273600, "3d 04h"), (1e300, "999d 00h")],
    )  # fmt: skip
    def test_duration(self, seconds, text):
        assert duration(seconds) == text

    def test_naive_time_is_utc(self):
        email = sns_message(make(at=datetime(2024, 1, 2, 3, 4, 5)))["email"]
        assert "2024-01-02 03:04:05 UTC" in email
