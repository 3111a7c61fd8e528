"""YAML loading at libyaml speed, with YAML 1.2 scalars and node marks for ``file:line``.

Why a module of its own: YAML 1.1 (PyYAML's default) silently turns ``sub_title: on``
into ``True``, ``012`` into 10 and ``12:30`` into 750, which surprises anyone writing a
spec. ``Loader`` keeps libyaml's C parser and swaps the implicit resolvers for the
YAML 1.2 core schema: only ``true/false`` (and ``True``/``TRUE``...) are booleans,
``on``/``off``/``yes``/``no`` stay strings, and dates stay strings. Duplicate keys in a
mapping are errors (YAML forbids them; PyYAML keeps the last one silently).

``load`` returns the constructed data *and* the composed root node. The node tree is
built anyway by the parser, so keeping it costs nothing, and it is what maps an error
path (``videos.x.sub_title``) back to a line when, and only when, there is an error.

Speed: libyaml composes the node tree in C but calls back into Python to resolve
every scalar, and PyYAML's constructor is a generic generator-driven machine. Here
``resolve`` is a lean lookup by first character and ``_build`` converts the plain
tags (str, int, float, bool, null, map, seq) in one recursive pass: together about
twice as fast as ``yaml.load(..., Loader=CSafeLoader)``. Anything unusual (a merge key
``<<``, an explicit tag, a duplicate or unhashable key) falls back to PyYAML's own
constructor on the same node tree, which is the authority on those cases. A PyYAML
built without libyaml (no ``CSafeLoader``) gets the same rules on the pure-Python
``SafeLoader``: slower, never a crash.

Aliases are bounded (``MAX_ALIAS_EXPANSION``): a 1 KB "billion laughs" document, or
one that doubles itself through merge keys ``<<: [*a, *a]``, is refused before any
of it is constructed, with the line of the innermost node that grows too big. The
data built here shares aliased objects; ``expanded_size`` counts what a consumer
that walks it (validation, a merge, a hash) would see, for callers that multiply it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL, _NULL = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"


class YamlError(Exception):
    """Invalid YAML: ``line`` is 1-based (0 when unknown)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


MAX_ALIAS_EXPANSION = 1_000_000  # nodes an alias-expanded document may hold beyond its length in characters
_BASE_LOADER = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader  # PyYAML without libyaml: pure Python


class Loader(_BASE_LOADER):
    """CSafeLoader (or SafeLoader) with YAML 1.2 core-schema scalars and duplicate-key errors."""

    yaml_implicit_resolvers: dict = {}

    def construct_mapping(self, node, deep=False):
        own = node.value  # flatten_mapping deletes ``<<`` pairs from this very list in place
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) < len(node.value):  # fewer keys than pairs: merged or duplicated
            self._check_duplicates(own)
        return mapping

    def _check_duplicates(self, pairs: list) -> None:
        seen: set = set()
        for key_node, _ in pairs:
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)

    def construct_yaml12_int(self, node):
        return _int(self.construct_scalar(node))

    _first: dict[str, tuple] = {}  # first character -> ((tag, regexp), ...)

    def resolve(self, kind, value, implicit):
        """BaseResolver.resolve without path resolvers, for our implicit resolvers only."""
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in self._first.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR
        return _MAP if kind is MappingNode else _SEQ

    def descend_resolver(self, current_node, current_index):
        pass  # no path resolvers: skip a Python call's worth of bookkeeping per node

    def ascend_resolver(self):
        pass


def _int(text: str) -> int:
    if text[:2] in ("0o", "0x"):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _float(text: str) -> float:
    low = text.lower()
    if low.endswith(".inf"):
        return float("-inf") if text[0] == "-" else float("inf")
    return float("nan") if low == ".nan" else float(text)


def _resolver(tag: str, pattern: str, first: str) -> None:
    Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))


_resolver("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
_resolver("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789")
_resolver("tag:yaml.org,2002:float",
          r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
              |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", "-+.0123456789")
_resolver("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
_resolver(_MERGE_TAG, r"^(?:<<)$", "<")
Loader.add_constructor(_INT, Loader.construct_yaml12_int)
Loader._first = {first: tuple(rs) for first, rs in Loader.yaml_implicit_resolvers.items()}
_SCALARS = {_INT: _int, _FLOAT: _float, _BOOL: lambda v: v[0] in "tT", _NULL: lambda v: None}


class _Fallback(Exception):
    """Something the fast builder leaves to PyYAML's constructor."""


def _build(node: Node, memo: dict):
    """Python data of a node tree holding only plain tags (aliases stay shared)."""
    cls = node.__class__
    if cls is ScalarNode:
        tag = node.tag
        if tag == _STR:
            return node.value
        convert = _SCALARS.get(tag)
        if convert is None:
            raise _Fallback
        return convert(node.value)
    done = memo.get(id(node))
    if done is not None:
        return done
    if cls is SequenceNode:
        out = memo[id(node)] = []
        out.extend([_build(item, memo) for item in node.value])
        return out
    mapping = memo[id(node)] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG or key_node.__class__ is not ScalarNode:
            raise _Fallback
        mapping[_build(key_node, memo)] = _build(value_node, memo)
    if len(mapping) != len(node.value):
        raise _Fallback  # a duplicate key: PyYAML's constructor reports it with its line
    return mapping


class _TooBig(Exception):
    def __init__(self, node: Node):
        self.node = node


def _expanded_nodes(node: Node, memo: dict, limit: int) -> int:
    """Nodes of ``node`` with every alias (and merge key) expanded; _TooBig past ``limit``."""
    if node.__class__ is ScalarNode:
        return 1
    done = memo.get(id(node))
    if done is not None:
        return done
    if node.__class__ is SequenceNode:
        total = 1 + sum(_expanded_nodes(item, memo, limit) for item in node.value)
    else:
        total = 1 + sum(_expanded_nodes(k, memo, limit) + _expanded_nodes(v, memo, limit) for k, v in node.value)
    if total > limit:
        raise _TooBig(node)
    memo[id(node)] = total
    return total


def _check_aliases(text: str, node: Node) -> None:
    """Refuse a document whose aliases expand it far beyond its own size."""
    if "*" not in text:
        return  # no alias: the tree is no bigger than the text
    limit = len(text) + MAX_ALIAS_EXPANSION
    try:
        _expanded_nodes(node, {}, limit)
    except _TooBig as exc:
        raise YamlError(exc.node.start_mark.line + 1,
                        f"aliases expand this document to more than {limit:,} values "
                        "(an alias bomb?); write the data out or use fewer nested aliases") from None


def expanded_size(value: Any, memo: dict) -> int:
    """Values in ``value`` counted as a walk sees them: shared (aliased) objects once per
    use. ``memo`` (by id) keeps it linear in the distinct objects."""
    if not isinstance(value, (dict, list)):
        return 1
    done = memo.get(id(value))
    if done is None:
        items = value.values() if isinstance(value, dict) else value
        done = memo[id(value)] = 1 + len(value) + sum(expanded_size(v, memo) for v in items
                                                      if isinstance(v, (dict, list)))
    return done


def load(text: str) -> tuple[Any, Node | None]:
    """Parse one YAML document; return ``(data, root_node)``. Raises YamlError."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_aliases(text, node)
        try:
            return _build(node, {}), node
        except _Fallback:
            return loader.construct_document(node), node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark and text[mark.index:mark.index + 1] == "\t":
            problem += " (a tab: YAML is indented with spaces only)"
        raise YamlError(mark.line + 1 if mark else 0, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # e.g. a reader error without a mark
        raise YamlError(0, f"invalid YAML: {exc}") from None
    except (ValueError, OverflowError) as exc:  # a scalar the constructor could not convert
        raise YamlError(0, f"invalid YAML value: {exc}") from None
    except RecursionError:
        raise YamlError(0, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def child(node: Node | None, part: Any) -> tuple[Node | None, Node | None]:
    """The (key node, value node) of ``part`` inside ``node``, or (None, None)."""
    if isinstance(node, MappingNode):
        for key, value in reversed(node.value):  # after a merge, own keys come last
            if isinstance(key, ScalarNode) and key.value == str(part):
                return key, value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item
    return None, None


def locate(node: Node | None, path: tuple) -> tuple[int, bool]:
    """Line of the deepest node along ``path`` and whether the whole path was found.

    The line is that of the key naming the last part found (where a user looks)."""
    line = node.start_mark.line + 1 if node is not None else 0
    for part in path:
        key, value = child(node, part)
        if key is None:
            return line, False
        line, node = key.start_mark.line + 1, value
    return line, True


def mapping_key_lines(node: Node | None) -> dict[Any, int]:
    """Line of each scalar key of a mapping node (e.g. the addresses under ``videos``)."""
    if not isinstance(node, MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, ScalarNode)}
