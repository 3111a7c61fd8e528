"""Sandboxed Jinja rendering of ``*.yaml.j2`` spec files, and the variables they see.

Templates are data written by people who should not be able to run code: rendering uses
``SandboxedEnvironment`` with ``StrictUndefined`` (a missing variable is an error, not
an empty string), no loader (no ``include`` of arbitrary files, so a template's output
depends only on its own bytes and the variables: that is what makes the spec cache
key sound) and ``trim_blocks``/``lstrip_blocks`` so ``{% for %}`` lines leave no stray
blanks in YAML. Every failure, sandbox escapes included, becomes ``TemplateFailure``
with the template line when Jinja knows it. jinja2 is imported only when a template
actually has to be rendered (a warm spec cache never pays for it).
"""

from __future__ import annotations

import hashlib
import keyword
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.util import yamlio
from reconciler.errors import Diagnostic
from reconciler.specs.fingerprint import canonical_json

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
            raw = path.read_bytes()
        except OSError as exc:
            result.diagnostics.append(Diagnostic(rel, 0, "", f"cannot read vars file: {exc.strerror}"))
            continue
        h.update(f"{rel}\0{len(raw)}\0".encode() + raw)
        result.values.update(_parse_vars(rel, raw, result.diagnostics))
    h.update(canonical_json(sorted(overrides.items())).encode())
    result.values.update(overrides)
    result.digest = h.hexdigest()
    return result


def _parse_vars(rel: str, raw: bytes, diagnostics: list[Diagnostic]) -> dict:
    try:
        data, _ = yamlio.load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        diagnostics.append(Diagnostic(rel, 0, "", "vars file is not valid UTF-8"))
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


def environment():
    """A fresh sandboxed environment (cheap; one per load)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=True)


def render(env, source: str, name: str, variables: dict) -> str:
    """Render ``source`` (named ``name`` in messages). Raises TemplateFailure."""
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.sandbox import SecurityError

    try:
        code = env.compile(source, name=name, filename=name)
        template = env.template_class.from_code(env, code, env.make_globals(None))
        return template.render(variables)
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


def _line(exc: BaseException, name: str) -> int:
    """The template line of the innermost frame Jinja mapped back to ``name``."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == name:
            line = frame.lineno or line
    return line
