"""Shape a Notice for each channel: SNS (email, SMS), Slack and Discord. Pure functions.

Every text that came from an alarm or the config is made one-line where a channel needs one
line, capped to the channel's limit (with an ellipsis, never a silent cut) and escaped for the
channel's markup, so an alarm name cannot ping a channel or break the layout.

>>> sns.publish(TopicArn=arn, Subject=email_subject(notice), MessageStructure="json",
...             Message=json.dumps(sns_message(notice)))  # doctest: +SKIP
>>> requests.post(slack_url, json=slack_payload(notice), timeout=5)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Callable, Optional

from chalicelib.notify.gsm7 import SEGMENT_SEPTETS, fit_segment, septets, to_gsm7
from chalicelib.notify.notice import Notice

SMS_LIMIT = SEGMENT_SEPTETS  # one SMS segment of GSM-7 (see notify.gsm7)
SUBJECT_LIMIT = 99  # SNS: subjects must be fewer than 100 characters
EMAIL_LIMIT = 20_000  # twice this (email + default) stays far below SNS's 256 KiB
DISCORD_LIMIT = 2000  # Discord rejects longer content
SLACK_LIMIT = 3000  # Slack advises short top-level text; it truncates past 40k
TITLE_LIMIT = 200  # raw characters kept of a title before escaping
ID_LIMIT = 100  # raw characters kept of an incident or command id
LINE_LIMIT = 300  # raw characters kept of a story line in chat
EMAIL_LINE_LIMIT = 1000
NOTE_LIMIT = 60  # raw characters kept of a channel's note (its SMS must keep room for the title)
MAX_DURATION = 999 * 86400.0  # a longer "downtime" is a bug upstream; keep the text short

LABELS = {
    "opened": "Incident opened",
    "action": "Action taken",
    "recovered": "Recovered",
    "escalated": "Escalated to people",
    "budget_exhausted": "Runbook budget exhausted",
    "reminder": "Still open",
    "test": "Test message",
    "digest": "Daily digest",
}
EMOJI = {
    "opened": "\U0001f534",  # red circle
    "action": "\U0001f527",  # wrench
    "recovered": "\u2705",  # check mark
    "escalated": "\U0001f6a8",  # rotating light
    "budget_exhausted": "\u26d4",  # no entry
    "reminder": "\u23f0",  # alarm clock
    "test": "\U0001f514",  # bell
    "digest": "\U0001f4cb",  # clipboard
}

# Control characters, and the Unicode line/paragraph separators some clients honour.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# Bidi controls (they can make "web OK" read as something else) and zero-width characters (they
# hide text from a reader and split words a filter looks for): removed on every channel.
_INVISIBLE = re.compile(r"[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
_DISCORD_SPECIAL = re.compile(r"([\\*_~`|><@#\[\]])")


# --- SNS ---------------------------------------------------------------------------------


def sns_message(notice: Notice) -> dict[str, str]:
    """The Message for SNS MessageStructure="json": the whole story by email, a line by SMS."""
    story = email_text(notice)
    return {"default": story, "email": story, "sms": sms_text(notice)}


def email_subject(notice: Notice) -> str:
    """A Subject SNS accepts: one ASCII line, no control characters, under 100 characters."""
    # Stripped again: a title of accents alone (say "¯") leaves only the spaces around it.
    return clip(ascii_only(one_line(f"[autoheal] {notice.title}")).strip(), SUBJECT_LIMIT, "...")


def sms_text(notice: Notice) -> str:
    """One SMS segment: one line of GSM-7, at most 160 septets; the downtime survives a long title."""
    down = duration(notice.downtime_s)
    note = to_gsm7(clip(one_line(notice.note or ""), NOTE_LIMIT, "..."))
    suffix = " ".join(
        part for part in (f"(down {down})" if down else "", f"[{note}]" if note else "") if part
    )
    room = SMS_LIMIT - len("autoheal: ") - len(suffix) - 1
    title = one_line(to_gsm7(one_line(notice.title)))  # a transliteration may leave spaces
    if septets(title) > room:
        title = fit_segment(clip(title, room, "..."), room)
    return " ".join(part for part in ("autoheal:", title, suffix) if part)


def email_text(notice: Notice) -> str:
    """The plain-text story: title, facts, then every line so far (oldest first)."""
    head = [clip(one_line(notice.title), EMAIL_LINE_LIMIT), "", *_facts(notice), ""]
    lines = ["  " + clip(one_line(line), EMAIL_LINE_LIMIT) for line in notice.lines]
    footer = ["", "-- autoheal"]
    budget = EMAIL_LIMIT - _size(head) - _size(footer) - 20
    heading = "The day's incidents:" if notice.kind == "digest" else "What happened so far:"
    story = [heading, *fit(lines, budget)] if lines else []
    return "\n".join(head + story + footer)


# --- chat --------------------------------------------------------------------------------


def slack_payload(notice: Notice) -> dict[str, object]:
    """An incoming-webhook payload; &, < and > escaped so nothing becomes a mention or link."""
    title = slack_escape(clip(one_line(notice.title), TITLE_LIMIT))
    facts = slack_escape(" \u00b7 ".join(_facts(notice, chat=True)))
    text = _chat_text(f"{EMOJI[notice.kind]} *{title}*", facts, notice, slack_escape, SLACK_LIMIT)
    return {"text": text, "unfurl_links": False, "unfurl_media": False}


def discord_payload(notice: Notice) -> dict[str, object]:
    """An execute-webhook payload: at most 2000 characters, no mention can ping anyone."""
    title = discord_escape(clip(one_line(notice.title), TITLE_LIMIT))
    facts = discord_escape(" \u00b7 ".join(_facts(notice, chat=True)))
    text = _chat_text(f"{EMOJI[notice.kind]} **{title}**", facts, notice, discord_escape, DISCORD_LIMIT)
    return {
        "content": text,
        "username": "autoheal",
        "allowed_mentions": {"parse": []},  # the real guard: Discord pings no one
        "flags": 4,  # SUPPRESS_EMBEDS: no link previews of URLs found in alarm text
    }


def _chat_text(head: str, facts: str, notice: Notice, escape: Callable[[str], str], limit: int) -> str:
    lines = ["\u2022 " + escape(clip(one_line(line), LINE_LIMIT)) for line in notice.lines]
    budget = limit - len(head) - len(facts) - 2
    text = "\n".join([head, facts, *fit(lines, budget)])
    return text[:limit]  # unreachable by the caps above; kept as the last guard


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord_escape(text: str) -> str:
    """Backslash Discord's markdown and mention characters (a backslash shows them as text)."""
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


# --- shared text helpers -----------------------------------------------------------------


def _facts(notice: Notice, *, chat: bool = False) -> list[str]:
    """Labelled lines for email; short phrases for chat."""
    incident = clip(one_line(notice.incident), ID_LIMIT)
    command = clip(one_line(notice.command_id or ""), ID_LIMIT)
    down = duration(notice.downtime_s)
    note = clip(one_line(notice.note or ""), NOTE_LIMIT)
    if chat:
        phrases = [incident, LABELS[notice.kind], when(notice.at)]
        extra = [f"down {down}"] * bool(down) + [f"command {command}"] * bool(command) + [note] * bool(note)
        return phrases + extra
    pairs = [("Incident", incident), ("What", LABELS[notice.kind]), ("When", when(notice.at)),
             ("Downtime", down), ("Command", command), ("Note", note)]  # fmt: skip
    return [f"{name + ':':<10}{value}" for name, value in pairs if value]


def fit(lines: list[str], budget: int) -> list[str]:
    """Keep the first line and the latest ones that fit `budget` characters (newline-joined).

    The first line says how it started and the latest say where it is: the middle goes.
    """
    if _size(lines) <= budget:
        return lines
    marker_room = 40
    used = marker_room
    head = []
    if len(lines[0]) + 1 + used <= budget:
        head, used = [lines[0]], used + len(lines[0]) + 1
    tail: list[str] = []
    for line in reversed(lines[len(head) :]):
        if used + len(line) + 1 > budget:
            break
        tail.append(line)
        used += len(line) + 1
    omitted = len(lines) - len(head) - len(tail)
    return [*head, f"\u2026 {omitted} more lines \u2026", *reversed(tail)]


def one_line(text: str) -> str:
    """Control characters and line breaks become spaces, bidi and zero-width characters go; runs
    of whitespace collapse."""
    return _SPACES.sub(" ", _BREAKS.sub(" ", _INVISIBLE.sub("", text))).strip()


def clip(text: str, limit: int, ellipsis: str = "\u2026") -> str:
    """Cut `text` to `limit` characters, at a word boundary when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ellipsis), 0)]
    space = cut.rfind(" ")
    if space >= len(cut) - 15 and space > 0:
        cut = cut[:space]
    return cut.rstrip() + ellipsis


def ascii_only(text: str) -> str:
    """Accents dropped ("é" -> "e"); other non-ASCII characters become "?"."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.encode("ascii", "replace").decode("ascii")


def duration(seconds: Optional[float]) -> str:
    """42s, 3m 12s, 2h 05m, 3d 04h; empty when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    total = int(round(min(seconds, MAX_DURATION)))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h {total % 3600 // 60:02d}m"
    return f"{total // 86400}d {total % 86400 // 3600:02d}h"


def when(moment: datetime) -> str:
    """UTC, to the second (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)
