"""YAML read as OmegaConf reads it: a key given twice in one mapping is refused, not silently the later one.

A label file adapted by hand often gains a second ``japan:`` block; PyYAML's own loader would keep the last and
drop the first's aliases without a word, while Hydra's loader refuses the same file with a traceback. A user's
YAML file (a label or template file) is read here too, its errors one line naming the file and the key's line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import KpstanceError
from .files import read_utf8


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Refuse a key written twice in one mapping; keys a merge (``<<: *base``) brings in may be overridden, as
        YAML allows, and a key that is no scalar is left to PyYAML's own message."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"key {key!r} appears twice (the later one would "
                    "silently replace the first)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses a repeated key (a ``yaml.YAMLError`` whose ``problem_mark`` is its line)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def yaml_problem(e: yaml.YAMLError) -> str:
    """The one-line reason of a YAML error, for messages that name the file and line themselves."""
    return " ".join(str(getattr(e, "problem", "") or type(e).__name__).split())


def yaml_line(path: Path, keys: Sequence[str | int]) -> int | None:
    """The line (1-based) of the deepest key of ``keys`` found in the YAML file ``path``, from yaml's node tree: a
    string is a mapping key, an int an item of a list (None when the file cannot be read: a composed config names a
    file that may not be there)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    line = None
    for key in keys:
        if isinstance(key, int) and isinstance(node, yaml.SequenceNode) and 0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        hit = next(((k, v) for k, v in node.value if k.value == key), None)
        if hit is None:
            break
        line, node = hit[0].start_mark.line + 1, hit[1]
    return line


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """A user's YAML file, parsed as ``load_yaml`` does: a missing one is "<what> not found", a byte that is not UTF-8
    names its line and byte (``files.read_utf8``), a syntax slip or a repeated key names its line; one line each."""
    p = Path(path)
    if not p.exists():
        raise KpstanceError(f"{what} not found", p)
    try:
        return load_yaml(read_utf8(p))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise KpstanceError(f"not valid YAML ({yaml_problem(e)})", p, None if mark is None else mark.line + 1) from None


def key_error(message: str, path: Path, *keys: str | int) -> KpstanceError:
    """A one-line error naming a YAML file and, where the file is there to read, the line of the deepest of ``keys``
    (``yaml_line``)."""
    return KpstanceError(message, path, yaml_line(path, keys) if keys else None)
