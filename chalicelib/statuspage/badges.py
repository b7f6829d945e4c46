"""badges/<component>.svg: a component's uptime over 30 days as a small SVG badge for READMEs
and dashboards (as Upptime and Gatus offer). Self-contained, no script, no external font.

>>> 'fill="#4c1"' in badge("uptime 30d", 99.95)
True
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from chalicelib.statuspage.escape import xml_text as x
from chalicelib.statuspage.parts import slugs

CHAR_PX = 7  # Verdana 11px averages under 7 px a character: room enough without measuring
COLOURS = ((99.9, "#4c1"), (99.0, "#dfb317"), (0.0, "#e05d44"))


def render_badges(status: Mapping[str, Any]) -> dict[str, bytes]:
    """{"badges/<slug>.svg": svg} for every component (slugs as on the page's anchors)."""
    names = slugs([c["name"] for c in status["components"]])
    return {
        f"badges/{names[c['name']]}.svg": badge("uptime 30d", c["uptime"].get("30d"), c["name"]).encode()
        for c in status["components"]
    }


def badge(label: str, uptime: Optional[float], name: str = "") -> str:
    value = "no data" if uptime is None else (f"{uptime:.2f}%" if uptime < 100 else "100%")
    colour = "#9f9f9f" if uptime is None else next(c for bound, c in COLOURS if uptime >= bound)
    left, right = len(label) * CHAR_PX + 10, len(value) * CHAR_PX + 10
    width = left + right
    title = f"{name}: {label} {value}" if name else f"{label} {value}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{x(title)}"><title>{x(title)}</title>'
        f'<rect width="{left}" height="20" rx="3" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" rx="3" fill="{colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{left / 2}" y="14">{x(label)}</text><text x="{left + right / 2}" y="14">{x(value)}</text>'
        "</g></svg>"
    )
