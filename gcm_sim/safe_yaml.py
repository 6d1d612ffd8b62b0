"""Loading YAML a user wrote (scenario, study and world files) without trusting it.

Why this module exists: ``yaml.safe_load`` already refuses Python tags, but it
accepts a file of any size and an "alias bomb" (a few lines of anchors and aliases
that expand to billions of nodes when anything walks the result: OmegaConf, a
deep copy, a YAML dump), and its errors span several lines. :func:`load_file`
adds what a boundary needs:

- a size limit (``MAX_BYTES``) checked before parsing;
- UTF-8 only, with the byte offset of the first bad byte;
- a limit on the document's size *after* expanding aliases (``MAX_NODES``),
  computed on the composed node graph (shared nodes counted once per use, in
  time linear in the file), so a bomb is refused in milliseconds;
- only the standard YAML tags (SafeLoader's), so ``!!python/...`` never runs;
- one-line errors naming the file, the line and column, and what is wrong.

Every error is a :class:`YamlFileError`, a :class:`gcm_sim.policy.ConfigError`,
so the CLI reports it as exit code 2 like any other bad input. This module
imports nothing of gcm-sim but the error type; world.py, config.py and the
studies call it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from gcm_sim.policy import ConfigError

MAX_BYTES = 4_000_000  # the largest shipped YAML file is about 20 kB
MAX_NODES = 200_000    # scalars, lists and mappings after expanding aliases


class YamlFileError(ConfigError):
    """A YAML file that cannot be read safely: names the file, where, and what is wrong."""

    def __init__(self, path: str, problem: str, value: Any = None):
        ValueError.__init__(self, f"invalid file: {path}: {problem}")
        self.key, self.value, self.allowed = str(path), value, problem


class _Recursive(Exception):
    def __init__(self, node):
        self.node = node


class _Loader(yaml.SafeLoader):
    """SafeLoader; the node count after expanding aliases is checked in :func:`loads`."""


def _expanded_size(node, memo: dict) -> int:
    """Nodes in the document with every alias expanded (memoised per node object)."""
    key = id(node)
    if key in memo:
        if memo[key] is None:
            raise _Recursive(node)
        return memo[key]
    memo[key] = None  # in progress: meeting it again means an alias inside its own anchor
    if isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(x, memo) for x in node.value)
    elif isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        n = 1
    memo[key] = n
    return n


def _where(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    return f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def loads(text: str, path: str = "<text>") -> Any:
    """Parse one YAML document from ``text``; ``path`` names it in errors."""
    if len(text) > MAX_BYTES:
        raise YamlFileError(path, f"file too large ({len(text):,} characters; at most {MAX_BYTES:,})")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {})
        except _Recursive as r:
            m = r.node.start_mark
            raise YamlFileError(path, f"line {m.line + 1} column {m.column + 1}: refused: an alias (*) inside "
                                      "its own anchor (&) makes an endless value") from None
        if size > MAX_NODES:
            raise YamlFileError(path, f"refused: the document expands to {size:,} values through YAML "
                                      f"aliases (&/*); at most {MAX_NODES:,} are allowed")
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as e:
        tag = getattr(e, "problem", "") or ""
        raise YamlFileError(path, f"{_where(e)}{_one_line(tag)}; only plain YAML values are allowed "
                                  "(no !!python or other tags)") from None
    except yaml.YAMLError as e:
        problem = _one_line(getattr(e, "problem", None) or str(e))
        context = _one_line(getattr(e, "context", None))
        if context and getattr(e, "problem", None):
            problem = f"{context}, {problem}"
        raise YamlFileError(path, f"not valid YAML at {_where(e).rstrip(': ') or 'an unknown place'}: "
                                  f"{problem}") from None
    except RecursionError:
        raise YamlFileError(path, "refused: nested too deeply") from None
    finally:
        loader.dispose()


def load_file(path: str | os.PathLike, name: str | None = None) -> Any:
    """Read and parse a YAML file safely; ``name`` (default: the path) names it in errors."""
    label = name or str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise YamlFileError(label, f"file too large ({size:,} bytes; at most {MAX_BYTES:,})")
        data = p.read_bytes()
    except FileNotFoundError:
        raise YamlFileError(label, "file not found") from None
    except IsADirectoryError:
        raise YamlFileError(label, "a folder, not a file") from None
    except PermissionError:
        raise YamlFileError(label, "not readable (permission denied)") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise YamlFileError(label, f"not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r}); "
                                   "save the file as UTF-8") from None
    return loads(text, label)


def require_mapping(data: Any, path: str, key: str = "") -> dict:
    """``data`` if it is a mapping with string keys; otherwise one line naming the file and key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        where = f"{key}: " if key else ""
        raise YamlFileError(path, f"{where}expected a mapping of keys to values, got {type(data).__name__}",
                            value=data)
    for k in data:
        if not isinstance(k, str):
            raise YamlFileError(path, f"{key + '.' if key else ''}{k!r}: keys must be text", value=k)
    return data
