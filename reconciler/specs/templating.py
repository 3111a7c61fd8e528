"""Sandboxed Jinja rendering of ``*.yaml.j2`` spec files, and the variables they see.

Templates are data written by people who should not be able to run code: rendering uses
``SandboxedEnvironment`` with ``StrictUndefined`` (a missing variable is an error, not
an empty string), no loader (no ``include`` of arbitrary files, so a template's output
depends only on its own bytes and the variables: that is what makes the spec cache
key sound) and ``trim_blocks``/``lstrip_blocks`` so ``{% for %}`` lines leave no stray
blanks in YAML. Every failure, sandbox escapes included, becomes ``TemplateFailure``
with the template line when Jinja knows it. jinja2 is imported only when a template
actually has to be rendered (a warm spec cache never pays for it).

The work a template may do is bounded, because the sandbox bounds only one thing
(a single ``range`` holds at most 100,000 items) and two nested loops, a macro that
calls itself twice, or a string doubled forty times never end. ``_Guarded`` counts
every loop iteration and every call against ``MAX_STEPS``, checks the size of every
value an operator, ``~``, filter or call produces against ``MAX_CHARS`` (before an
arithmetic operator computes it where it can), and the rendered text is cut off at
``MAX_CHARS``. Past a bound the file gets a ``file:line`` error, nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import Diagnostic
from reconciler.specs.fingerprint import canonical_json
from reconciler.util import readfile, yamlio

TEMPLATE_SUFFIXES = (".yaml.j2", ".yml.j2")


class TemplateFailure(Exception):
    """A template could not be rendered; ``line`` is the template line (0 if unknown)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Variables:
    """The variables templates see, the problems met reading them, and their digest."""

    values: dict = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    digest: str = ""


def is_template(path: Path) -> bool:
    return path.name.endswith(TEMPLATE_SUFFIXES)


def load_variables(files: list[tuple[str, Path]], overrides: dict[str, str]) -> Variables:
    """Read vars files (``(relative name, path)``, later wins), then ``--var`` overrides."""
    result = Variables()
    h = hashlib.sha256()
    for rel, path in files:
        try:
            raw = readfile.read_regular(path)
        except OSError as exc:
            result.diagnostics.append(Diagnostic(rel, 0, "", f"cannot read vars file: {readfile.why(exc)}"))
            continue
        h.update(f"{rel}\0{len(raw)}\0".encode() + raw)
        result.values.update(_parse_vars(rel, raw, result.diagnostics))
    bad = _not_utf8(overrides)
    if bad:
        result.diagnostics += bad
        return result
    h.update(canonical_json(sorted(overrides.items())).encode())
    result.values.update(overrides)
    result.digest = h.hexdigest()
    return result


def _not_utf8(overrides: dict[str, str]) -> list[Diagnostic]:
    """``--var`` values (and names) the shell passed as bytes that are not UTF-8."""
    out = []
    for key, value in overrides.items():
        try:
            key.encode("utf-8")
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = ascii(key)[1:-1]
            out.append(Diagnostic("--var", 0, "", f"{shown}: the value (or name) is not valid UTF-8 text"))
    return out


def _parse_vars(rel: str, raw: bytes, diagnostics: list[Diagnostic]) -> dict:
    try:
        data, _ = yamlio.load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        diagnostics.append(Diagnostic(rel, line, "", f"vars file is not valid UTF-8 (byte {exc.start}); "
                                                     "save it as UTF-8"))
        return {}
    except yamlio.YamlError as exc:
        diagnostics.append(Diagnostic(rel, exc.line, "", exc.message))
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        diagnostics.append(Diagnostic(rel, 1, "", "a vars file must be a mapping of names to values"))
        return {}
    return data


MAX_STEPS = 5_000_000  # loop iterations (1 each) + calls (CALL_STEPS each) in one render
CALL_STEPS = 10  # a call (a macro's above all) costs about ten loop iterations
MAX_CHARS = 32 * 1024 * 1024  # length of any value, and of the rendered text
_MAX_INT_BITS = 1_000_000  # an integer an operator may produce
_STEP, _SIZE = "_reconciler_step", "_reconciler_size"  # internal filters the guard inserts


class TooMuchWork(Exception):
    """A template went past one of the bounds."""


def environment():
    """A fresh sandboxed, work-bounded environment (cheap; one per load)."""
    from jinja2 import StrictUndefined

    return _guarded_class()(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                            lstrip_blocks=True, keep_trailing_newline=True)


def _size_of(value) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set)) else 0


def _checked(value):
    if _size_of(value) > MAX_CHARS:
        raise TooMuchWork(f"a value of {_size_of(value):,} items/characters (the limit is {MAX_CHARS:,})")
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise TooMuchWork(f"an integer of {value.bit_length():,} bits")
    return value


@functools.cache
def _guarded_class():
    """The sandbox with the bounds above (built once: jinja2 is imported lazily)."""
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment
    from jinja2.visitor import NodeTransformer

    class _Guard(NodeTransformer):
        """Counts each loop's items, and size-checks what ``~`` and filters produce."""

        def visit_For(self, node):
            node = self.generic_visit(node)
            node.iter = nodes.Filter(node.iter, _STEP, [], [], None, None, lineno=node.iter.lineno)
            return node

        def visit_Filter(self, node):
            node = self.generic_visit(node)
            if node.node is None:  # ``{% filter %}`` blocks: the block's text is bounded as output
                return node
            return nodes.Filter(node, _SIZE, [], [], None, None, lineno=node.lineno)

        def visit_Concat(self, node):
            return nodes.Filter(self.generic_visit(node), _SIZE, [], [], None, None, lineno=node.lineno)

    class _Guarded(SandboxedEnvironment):
        intercepted_binops = frozenset({"+", "*", "**", "%"})

        def __init__(self, **options):
            super().__init__(**options)
            self.steps = 0
            self.filters[_STEP] = self._iterate
            self.filters[_SIZE] = _checked

        def step(self, n: int = 1) -> None:
            self.steps += n
            if self.steps > MAX_STEPS:
                raise TooMuchWork(f"more than {MAX_STEPS:,} loop iterations and calls")

        def _iterate(self, iterable):
            for item in iterable:
                self.step()
                yield item

        def _parse(self, source, name, filename):
            return _Guard().visit(super()._parse(source, name, filename))

        def call(self, context, obj, /, *args, **kwargs):
            self.step(CALL_STEPS)
            return _checked(super().call(context, obj, *args, **kwargs))

        def call_binop(self, context, operator, left, right):
            if operator in ("*", "+"):
                sizes = (_size_of(left), _size_of(right))
                if operator == "*" and isinstance(left, int) is not isinstance(right, int):
                    count = right if isinstance(right, int) else left
                    if max(sizes) * max(count, 0) > MAX_CHARS:
                        raise TooMuchWork(f"a repetition of {max(sizes) * count:,} items/characters")
                elif sum(sizes) > MAX_CHARS:
                    raise TooMuchWork(f"a value of {sum(sizes):,} items/characters")
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                if right * left.bit_length() > _MAX_INT_BITS:
                    raise TooMuchWork(f"a power of about {right * left.bit_length():,} bits")
            if operator == "*" and isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                    raise TooMuchWork("a product of more than a million bits")
            return _checked(super().call_binop(context, operator, left, right))

    return _Guarded


def render(env, source: str, name: str, variables: dict) -> str:
    """Render ``source`` (named ``name`` in messages). Raises TemplateFailure."""
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.sandbox import SecurityError

    try:
        code = env.compile(source, name=name, filename=name)
        template = env.template_class.from_code(env, code, env.make_globals(None))
        env.steps = 0
        return _bounded_text(template.generate(variables))
    except TooMuchWork as exc:
        raise TemplateFailure(_line(exc, name), f"template does too much work: {exc}; "
                                                "a template must stay far below these bounds") from None
    except TemplateSyntaxError as exc:
        raise TemplateFailure(exc.lineno or 0, f"template syntax error: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateFailure(_line(exc, name), f"undefined variable: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateFailure(_line(exc, name), f"unsafe template refused by the sandbox: {exc}") from None
    except (Exception, RecursionError) as exc:  # any runtime failure of user template code
        raise TemplateFailure(_line(exc, name), f"template error: {type(exc).__name__}: {exc}") from None


# ``{{ name }}``, spaces allowed inside, nothing else (no filter, attribute, whitespace control)
_PLAIN_OUTPUT = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
# names Jinja gives a meaning of its own (constants, specials, operators): left to Jinja
_JINJA_NAMES = frozenset({"true", "false", "none", "self", "loop", "super", "caller", "varargs", "kwargs",
                          "and", "or", "not", "in", "is", "if", "else"})


def substitute(source: str, variables: dict) -> str | None:
    """What ``render`` returns for a template whose only Jinja is ``{{ name }}`` of
    variables that are set (the usual ``look_name: "{{ look }}"``), made without Jinja:
    its lexer, parser and compiler cost ~12 ms per 30 KB template, most of a cold load.
    None for anything else (a block, a comment, a filter, an unset or special name, a
    ``\r`` that Jinja would normalise): ``render`` decides those, errors included.

    Same text by construction: with ``autoescape`` off and no ``finalize``, Jinja's code
    for ``{{ name }}`` is ``str(value)``, template data passes through unchanged
    (``keep_trailing_newline``; ``trim_blocks``/``lstrip_blocks`` act on blocks only), and
    a context variable shadows any global of the same name."""
    if "\r" in source:
        return None
    parts = _PLAIN_OUTPUT.split(source)  # text, name, text, name, ..., text
    for i in range(0, len(parts), 2):
        text = parts[i]
        if "{{" in text or "{%" in text or "{#" in text or (i + 1 < len(parts) and text.endswith("{")):
            return None
    out = parts
    for i in range(1, len(parts), 2):
        name = parts[i]
        if name in _JINJA_NAMES or keyword.iskeyword(name) or name not in variables:
            return None
        out[i] = str(variables[name])
    return "".join(out)


def _bounded_text(chunks) -> str:
    parts, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_CHARS:
            raise TooMuchWork(f"the rendered text is longer than {MAX_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _line(exc: BaseException, name: str) -> int:
    """The template line of the innermost frame Jinja mapped back to ``name``."""
    import traceback  # only when a template failed

    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == name:
            line = frame.lineno or line
    return line
