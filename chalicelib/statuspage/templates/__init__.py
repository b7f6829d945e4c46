"""The pages' HTML skeletons, CSS and scripts, kept as files so they read as what they are.

They are `string.Template`s and plain text (stdlib only, no Jinja: a smaller Lambda package and
cold start); values are escaped by the Python that fills them in.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

HERE = Path(__file__).parent


def load_templates(name: str) -> tuple[str, str, Template]:
    """(CSS, script, page template) of `name` ("index" or "maintenance")."""
    css = (HERE / f"{name}.css").read_text(encoding="utf-8")
    script = (HERE / f"{name}.js").read_text(encoding="utf-8")
    return css, script, Template((HERE / f"{name}.html").read_text(encoding="utf-8"))


def load_text(name: str) -> str:
    """A shared piece (times.js, index.css) as it is."""
    return (HERE / name).read_text(encoding="utf-8")
