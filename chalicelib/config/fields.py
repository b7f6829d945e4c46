"""A reader that walks a YAML mapping by key path and collects every error at once.

Each `Section` knows its path ("monitors[2].expect") so that an error names exactly the key a
person has to fix, and unknown keys are reported too: a typo must not silently disable a check.

>>> errors: list[str] = []
>>> s = Section({"timeout": "5x"}, "monitors[0]", errors)
>>> s.duration("timeout", 5.0)
5.0
>>> errors
['monitors[0].timeout: expected a duration like "5s", got \\'5x\\'']
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

from chalicelib.config.durations import format_duration, parse_duration

T = TypeVar("T")
_MISSING = object()
MAX_INTEGER = 1_000_000  # no count in a config is larger; a bigger one is a typo or an attack
MAX_DURATION = 30 * 86400.0  # no timeout, window or interval in a config is longer than 30 days


def shown(value: object, limit: int = 60) -> str:
    """repr() for messages, cut short: an error must stay readable whatever the file holds."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


class Section:
    """One mapping of the config; each getter records a problem and returns a safe default."""

    def __init__(self, data: object, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        self.seen: set[str] = set()
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.error(f"expected a mapping, got {type_name(data)}")
            data = {}
        self.data: Mapping[str, Any] = data

    # -- reporting ---------------------------------------------------------------------------
    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, message: str, key: Optional[str] = None) -> None:
        where = self.key_path(key) if key else (self.path or "(top level)")
        self.errors.append(f"{where}: {message}")

    def finish(self) -> None:
        """Report keys nobody asked for (call once every getter has run)."""
        for key in self.data:
            if key not in self.seen:
                self.error(f"unknown key (allowed: {', '.join(sorted(self.seen))})", str(key))

    # -- getters -----------------------------------------------------------------------------
    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self.seen.add(key)
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            self.error("required", key)
            return None
        return default

    def typed(self, key: str, kind: type, default: Any, expected: str) -> Any:
        value = self.raw(key, default)
        if value is None or value is default:
            return value
        # bool is an int in Python; a YAML `yes` must not pass as a number.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.error(f"expected {expected}, got {type_name(value)} {shown(value)}", key)
            return default
        return value

    def string(self, key: str, default: Any = _MISSING) -> Any:
        value = self.typed(key, str, default, "a string")
        if isinstance(value, str) and not value.strip() and value is not default:
            self.error("expected a non-empty string", key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return self.typed(key, bool, default, "true or false")

    def integer(self, key: str, default: Any = _MISSING, minimum: int = 0, maximum: int = MAX_INTEGER) -> Any:
        value = self.typed(key, int, default, "a whole number")
        if isinstance(value, int) and value is not default and value < minimum:
            self.error(f"expected a whole number >= {minimum}, got {shown(value)}", key)
            return default
        if isinstance(value, int) and value is not default and value > maximum:
            self.error(f"expected a whole number <= {maximum}, got {shown(value)}", key)
            return default
        return value

    def duration(
        self,
        key: str,
        default: Any = _MISSING,
        minimum: float = 0.0,
        maximum: float = MAX_DURATION,
        why: str = "",
    ) -> Any:
        """Seconds; `why` says where a `maximum` tighter than the general one comes from."""
        value = self.raw(key, default)
        if value is default:
            return value
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.error(str(exc), key)
            return default
        if seconds <= minimum:
            self.error(f"expected a duration above {minimum:g}s, got {shown(value)}", key)
            return default
        if seconds > maximum:
            limit = f"{format_duration(maximum)} ({why})" if why else format_duration(maximum)
            self.error(f"expected a duration of at most {limit}, got {shown(value)}", key)
            return default
        return seconds

    def choice(self, key: str, choices: Sequence[str], default: Any = _MISSING) -> Any:
        value = self.raw(key, default)
        if value is not default and value not in choices:
            self.error(f"expected one of {', '.join(choices)}, got {shown(value)}", key)
            return default
        return value

    def section(self, key: str, required: bool = False) -> Section:
        return Section(self.raw(key, _MISSING if required else {}), self.key_path(key), self.errors)

    def items(self, key: str, required: bool = False) -> list[tuple[str, Any]]:
        """A list value, as (path of each item, item)."""
        value = self.raw(key, _MISSING if required else [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"expected a list, got {type_name(value)}", key)
            return []
        return [(f"{self.key_path(key)}[{i}]", item) for i, item in enumerate(value)]

    def string_list(self, key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        return tuple(self.list_of(key, str, "a string", default))

    def list_of(self, key: str, kind: type, expected: str, default: Sequence[Any] = ()) -> list:
        good = []
        for path, item in self.items(key) if key in self.data else []:
            if isinstance(item, kind) and not isinstance(item, bool):
                good.append(item)
            else:
                self.errors.append(f"{path}: expected {expected}, got {type_name(item)} {shown(item)}")
        self.seen.add(key)
        return good if key in self.data else list(default)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.raw(key, {})
        if not isinstance(value, Mapping):
            self.error(f"expected a mapping of strings, got {type_name(value)}", key)
            return {}
        bad = [k for k, v in value.items() if not isinstance(v, (str, int)) or isinstance(v, bool)]
        for k in bad:
            self.error("expected a string value", f"{key}.{k}")
        return {str(k): str(v) for k, v in value.items() if k not in bad}

    def build(self, factory: Callable[..., T], **fields: Any) -> T:
        """Close the section and build its dataclass."""
        self.finish()
        return factory(**fields)
