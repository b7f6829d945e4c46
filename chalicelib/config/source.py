"""From the file's bytes to plain data: YAML read within bounds, then `${NAME}` filled in.

Whatever the file holds (invalid UTF-8, tabs, an alias bomb, nesting a thousand deep, keys that
are numbers), the only exception is ConfigError. `${NAME}` is filled in after parsing and only in
string values, so an environment value is data and can never add YAML structure; such a value
keeps the text written in the file as its repr, so an error message quotes the file, not the secret.

>>> data, secrets = read_source("url: http://${HOST}/healthz", environ={"HOST": "10.0.0.5"})
>>> str(data["url"]), repr(data["url"]), secrets
('http://10.0.0.5/healthz', "'http://${HOST}/healthz'", ['10.0.0.5'])
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Union

import yaml

from chalicelib.config.errors import ConfigError

ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 100_000  # counted with every alias expanded: a billion laughs stops here
STRING_KEY_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"}  # `<<: *defaults` is a key too


class Substituted(str):
    """A string that took part of its value from the environment; its repr is the text as written."""

    template: str

    def __new__(cls, value: str, template: str) -> Substituted:
        made = super().__new__(cls, value)
        made.template = template
        return made

    def __repr__(self) -> str:
        return repr(self.template)

    def __getnewargs__(self) -> tuple[str, str]:  # copy/pickle (boto3 deep-copies DynamoDB params)
        return (str(self), self.template)


def read_source(
    content: Union[str, bytes], source: str = "config", environ: Mapping[str, str] | None = None
) -> tuple[Any, list[str]]:
    """The parsed data with `${NAME}` filled in, and the values filled in (to keep out of messages)."""
    text = decode(content, source)
    data = parse_yaml(text, source)
    secrets: list[str] = []
    missing: list[str] = []
    data = substitute(data, {} if environ is None else environ, "", secrets, missing)
    if missing:
        raise ConfigError(missing)
    return data, secrets


def decode(content: Union[str, bytes], source: str) -> str:
    if len(content) > MAX_BYTES:
        raise ConfigError([f"{source}: larger than {MAX_BYTES} bytes"])
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: not valid UTF-8 (byte {exc.start})"]) from None


def parse_yaml(text: str, source: str) -> Any:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        check_nodes(node, source)
        return yaml.SafeLoader("").construct_document(node)
    except ConfigError:
        raise
    except yaml.MarkedYAMLError as exc:
        # Only the problem and where: the snippet PyYAML prints would quote the file's own text.
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError([f"{source}: not valid YAML{where}: {what}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: not valid YAML ({type(exc).__name__})"]) from None
    except RecursionError:
        raise ConfigError([f"{source}: nested deeper than {MAX_DEPTH} levels"]) from None
    except (ValueError, OverflowError) as exc:
        # A scalar its tag cannot hold: a 5,000-digit number, a 13th month in a date.
        raise ConfigError([f"{source}: a value YAML cannot read ({type(exc).__name__})"]) from None


def check_nodes(root: yaml.Node, source: str) -> None:
    """Refuse what would be costly or ambiguous to walk: deep nesting, alias bombs, non-string keys,
    and keys written twice in one mapping (PyYAML keeps the last silently: all are listed)."""
    sizes: dict[int, int] = {}  # expanded size per node, so a shared anchor is measured once
    open_nodes: set[int] = set()
    duplicates: list[str] = []

    def size(node: yaml.Node, path: str, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > MAX_DEPTH:
            raise ConfigError([f"{path or source}: nested deeper than {MAX_DEPTH} levels"])
        if id(node) in open_nodes:
            raise ConfigError([f"{path or source}: an alias refers to a node that contains it"])
        open_nodes.add(id(node))
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            duplicates.extend(duplicate_keys(node, path))
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag not in STRING_KEY_TAGS:
                    shown = key.value[:40] if isinstance(key, yaml.ScalarNode) else "a collection"
                    kind = key.tag.rsplit(":", 1)[-1]
                    raise ConfigError(
                        [f"{path or '(top level)'}: keys must be strings, got {kind} key {shown!r}"]
                    )
                total += 1 + size(value, f"{path}.{key.value}" if path else key.value, depth + 1)
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        if total > MAX_NODES:
            raise ConfigError([f"{source}: more than {MAX_NODES} values once aliases are expanded"])
        return total

    size(root, "", 0)
    if duplicates:
        raise ConfigError(duplicates)


def duplicate_keys(node: yaml.MappingNode, path: str) -> list[str]:
    """`settings.timeout: duplicate key (lines 3 and 5)` for each key written again."""
    first: dict[str, int] = {}
    found = []
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
            continue  # `<<` merges may repeat; other keys are refused already
        line = key.start_mark.line + 1
        if key.value in first:
            where = f"{path}.{key.value}" if path else key.value
            found.append(f"{where}: duplicate key (lines {first[key.value]} and {line})")
        else:
            first[key.value] = line
    return found


def substitute(
    value: Any, environ: Mapping[str, str], path: str, secrets: list[str], missing: list[str]
) -> Any:
    """`${NAME}` in string values (never in keys, never as YAML); records what came from environ."""
    if isinstance(value, str):
        names = ENV_REFERENCE.findall(value)
        if not names:
            return value
        for name in names:
            if name in environ:
                secrets.append(environ[name])
            else:
                missing.append(f"{path or '(top level)'}: ${{{name}}} is used but not set in the environment")
        filled = ENV_REFERENCE.sub(lambda m: environ.get(m.group(1), m.group(0)), value)
        return Substituted(filled, value)
    if isinstance(value, list):
        return [substitute(item, environ, f"{path}[{i}]", secrets, missing) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            key: substitute(item, environ, f"{path}.{key}" if path else str(key), secrets, missing)
            for key, item in value.items()
        }
    return value


def redact(message: str, secrets: list[str]) -> str:
    """A backstop: any value named as secret is replaced, as written and as repr() escapes it."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) < 4:  # too short to find without garbling the message; repr() hides it anyway
            continue
        for form in (secret, repr(secret)[1:-1]):
            message = message.replace(form, "***")
    return message
