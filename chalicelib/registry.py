"""A registry of named kinds: plugins register into it at import, and callers look kinds up by name.

It imports nothing of autoheal's, so any layer may hold one (the four kinds' registries live in
`config.kinds`, below the domains that fill them).

>>> colours = Registry("colour")
>>> @colours.register
... class Red:
...     kind = "red"
>>> colours["red"].__name__, "blue" in colours
('Red', False)
>>> print(colours.unknown("rde"))
unknown colour 'rde' (known: red); did you mean 'red'?
"""

from __future__ import annotations

import difflib
from typing import Generic, Iterator, TypeVar

K = TypeVar("K", bound=type)


class Registry(Generic[K]):
    """Kinds by their `kind` name, in the order they registered (which fixes the order of output)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._kinds: dict[str, K] = {}

    def register(self, kind: K) -> K:
        name = getattr(kind, "kind", "")
        if not name or name in self._kinds:
            raise ValueError(f"{self.what} kind {name!r}: empty or registered twice")
        self._kinds[name] = kind
        return kind

    def unregister(self, name: str) -> None:
        """Forget a kind (a test's own kind, once the test is over)."""
        self._kinds.pop(name, None)

    def unknown(self, name: str) -> str:
        """What to tell a person who wrote a kind that is not registered, with the closest one."""
        close = difflib.get_close_matches(name, self._kinds, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.what} {name!r} (known: {', '.join(sorted(self._kinds))}){hint}"

    def __getitem__(self, name: str) -> K:
        return self._kinds[name]

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def items(self) -> list[tuple[str, K]]:
        return list(self._kinds.items())

    def values(self) -> list[K]:
        return list(self._kinds.values())
