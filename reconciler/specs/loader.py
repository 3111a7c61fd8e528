"""From spec files on disk to desired videos, with every problem as ``file:line``.

Per file: read bytes -> (cache hit? done) -> render Jinja for ``*.j2`` -> YAML 1.2 ->
structure (only ``defaults`` and ``videos``) -> addresses -> merge defaults -> validation
(all videos of the file at once) -> PPT path and hash checks -> request bodies and
fingerprints. Problems are collected, never raised one by one, so a user sees every
mistake of every file in one run; a file with any problem contributes no videos.
Cross-file problems (a duplicate address, output paths that collide) are checked over
the files that loaded (``crosschecks``). Which files are specs is ``discovery``'s job;
one file's shape, defaults and ``file:line`` messages are ``document``'s; this module
runs the pipeline and the spec cache. Files are read with ``readfile`` (a FIFO named
``a.yaml`` is an error, not a hang). Bad input writes
nothing: the spec cache is written (and pruned) only after a load without errors.

Speed: the happy path is one libyaml parse plus one validator call per file, and a warm
run (``reconciler.specs.cache``) reads bytes, hashes them and loads plain tuples without
importing jinja2 or building a validator. Lines are looked up in the YAML node tree
only when there is an error. Loading specs never touches the state DB.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import marshal
import operator
import os
from dataclasses import dataclass, field
from pathlib import Path

from reconciler import __version__
from reconciler.config import CONFIG_NAME, DEFAULT_VARS, Config
from reconciler.errors import Diagnostic, SpecErrors
from reconciler.model import LAZY_REQUEST, DesiredVideo
from reconciler.specs import crosschecks, discovery, templating, vendor_lists
from reconciler.specs.cache import CACHE_DIR, FORMAT, SpecCache
from reconciler.specs.discovery import SPEC_SUFFIXES, discover  # noqa: F401 - where callers look for them
from reconciler.specs.document import Document, merged_videos
from reconciler.specs.fingerprint import fingerprint
from reconciler.specs.memo import SpecMemo
from reconciler.util import gcpause, readfile, yamlio
from reconciler.util.digest import file_sha256


@dataclass
class SpecLoad:
    videos_by_file: dict[str, list[DesiredVideo]] = field(default_factory=dict)
    errors_by_file: dict[str, list[Diagnostic]] = field(default_factory=dict)
    errors: list[Diagnostic] = field(default_factory=list)
    keys_by_file: dict[str, str] = field(default_factory=dict)  # clean file -> its content key (bytes, salt, vars)
    spec_files: list[Path] = field(default_factory=list)
    # values outside the vendor documents' lists, per file: (address, field path, message)
    unlisted_by_file: dict[str, list[tuple]] = field(default_factory=dict)
    watched_files: set[Path] = field(default_factory=set)
    digest: str = ""

    def all_errors(self) -> list[Diagnostic]:
        out = list(self.errors)
        for diagnostics in self.errors_by_file.values():
            out.extend(diagnostics)
        return sorted(out)

    def desired(self) -> dict[str, DesiredVideo]:
        """Every desired video by address (sorted); raises SpecErrors if anything is wrong."""
        errors = self.all_errors()
        if errors:
            raise SpecErrors(errors)
        videos = sorted((v for vs in self.videos_by_file.values() for v in vs), key=_address_of)
        return dict(zip(map(_address_of, videos), videos))


_address_of = operator.attrgetter("address")


@dataclass
class _FileResult:
    videos: list[DesiredVideo] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    key: str = ""
    decks: list[tuple] = field(default_factory=list)  # (ppt_file as written, deck rel, sha256)
    unlisted: list[tuple] = field(default_factory=list)  # (address, field path, message): warnings


def load_specs(config: Config, variables: dict[str, str] | None = None, *, use_cache: bool = True,
               memo: SpecMemo | None = None) -> SpecLoad:
    """Load every spec file of the project; problems are collected, not raised.
    ``memo`` (a long-running process's): files it vouches for are not read again."""
    with gcpause.paused():  # ~10^5 acyclic objects: generation scans would cost ~15%
        if memo is None:
            return _load_specs(config, variables, use_cache, None)
        memo.begin()
        load = _load_specs(config, variables, use_cache, memo)
        memo.finish()
        return load


def _load_specs(config: Config, variables: dict[str, str] | None, use_cache: bool,
                memo: SpecMemo | None) -> SpecLoad:
    walked, found_problems = discovery.walk(config)
    if memo is None:
        files = [Path(full) for full in walked]
        rels = discovery.rels(config, files)
    else:  # the Path objects and relative names of the last load, for the files still there
        files, rels = memo.paths(walked, lambda new: discovery.rels(config, new))
    vars_files = [(discovery.rel(config, p), p) for p in config.vars_files]
    loader = _Loader(config, templating.load_variables(vars_files, dict(variables or {})),
                     SpecCache(config.state_dir / CACHE_DIR, enabled=use_cache), memo)
    load = SpecLoad(spec_files=files, errors=list(loader.variables.diagnostics) + found_problems)
    digest = hashlib.sha256(f"{loader.salt}\0{loader.variables.digest}\0".encode())
    keys = []  # "rel\0key\0" of each file, hashed at once (the same bytes as one update each)
    for path, rel in zip(files, rels):
        result = loader.load_file(path, rel)
        keys.append(f"{rel}\0{result.key}\0")
        if result.diagnostics:
            load.errors_by_file[rel] = sorted(result.diagnostics)
        else:
            load.videos_by_file[rel] = result.videos
            load.keys_by_file[rel] = result.key
            if result.unlisted:
                load.unlisted_by_file[rel] = result.unlisted
    digest.update("".join(keys).encode())
    for deck, sha in sorted((discovery.rel(config, t), sha) for t, sha in loader.ppt_hashes.items()):
        digest.update(f"{deck}\0{sha}\0".encode())
    load.errors += crosschecks.duplicates(load.videos_by_file) + crosschecks.collisions(load.videos_by_file)
    load.watched_files = _watched(config, files, loader.ppt_hashes)
    load.digest = digest.hexdigest()
    listing_changed = memo is None or memo.listing_changed(rels)
    if load.all_errors():
        return load  # bad input writes nothing, not even the cache of the good files
    loader.flush_cache()
    if listing_changed:
        loader.cache.prune(rels)
    return load


def _watched(config: Config, files: list[Path], ppts: dict[Path, str]) -> set[Path]:
    vars_files = set(config.vars_files) or {config.root / n for n in DEFAULT_VARS}
    return set(files) | vars_files | {config.root / CONFIG_NAME} | set(ppts)


@functools.cache
def _code_digest() -> str:
    """Hash of the code that shapes a cached result: a changed rule invalidates the cache."""
    h = hashlib.sha256(f"{FORMAT}\0{__version__}\0".encode())
    for path in _code_sources():
        h.update(path.read_bytes())
    return h.hexdigest()


def _code_sources() -> list[Path]:
    """Every module whose rules shape a loaded spec: the whole ``specs`` package and the
    YAML reader it stands on. Listed by glob, so a moved or added module can't be missed."""
    package = Path(__file__).parent
    return sorted(package.glob("*.py")) + [package.parent / "util" / "yamlio.py"]


class _Loader:
    """Loads one file at a time, sharing the variables, Jinja env, cache and PPT hashes."""

    def __init__(self, config: Config, variables: templating.Variables, cache: SpecCache,
                 memo: SpecMemo | None = None):
        self.config = config
        self.variables = variables
        self.cache = cache
        self.memo = memo
        self.salt = hashlib.sha256(f"{_code_digest()}\0{config.digest()}".encode()).hexdigest()
        self.ppt_hashes: dict[Path, str] = {}
        self._env = None
        self._pending: list[tuple] = []  # cache entries to write once the whole load is good

    def flush_cache(self) -> None:
        for entry in self._pending:
            self.cache.put(*entry)
        self._pending.clear()

    def load_file(self, path: Path, rel: str) -> _FileResult:
        if self.memo is None:
            return self._read_file(path, rel)
        template = rel.endswith(templating.TEMPLATE_SUFFIXES)  # is_template, without pathlib
        context = (self.salt, rel, self.variables.digest if template else None)
        return self.memo.load(str(path), context, lambda: self._read_file(path, rel), _memorable)

    def _read_file(self, path: Path, rel: str) -> _FileResult:
        try:
            raw = readfile.read_regular(path)
        except OSError as exc:
            return _FileResult(diagnostics=[Diagnostic(rel, 0, "", f"cannot read spec file: {readfile.why(exc)}")])
        template = templating.is_template(path)
        key = self._key(rel, raw, template)
        result = self._cached(path, rel, key)
        if result is None:
            result = self._parse(path, rel, raw, template)
            if not result.diagnostics:
                self._pending.append((rel, key, _payload(result)))
        result.key = key
        return result

    def _key(self, rel: str, raw: bytes, template: bool) -> str:
        h = hashlib.sha256(f"{self.salt}\0{rel}\0".encode())
        if template:  # only templates depend on the variables
            h.update(f"{self.variables.digest}\0".encode())
        h.update(raw)
        return h.hexdigest()

    def _cached(self, path: Path, rel: str, key: str) -> _FileResult | None:
        payload = self.cache.get(rel, key)
        if payload is None:
            return None
        try:
            rows, decks, unlisted = payload
            for raw_ppt, ppt_rel, sha in decks:  # decks are re-checked on every load
                target, problem = self.ppt_target(path, raw_ppt)
                if problem or discovery.rel(self.config, target) != ppt_rel or self.ppt_sha(target) != sha:
                    return None
            return _FileResult(videos=_videos_from_rows(rows, rel), decks=list(decks), unlisted=list(unlisted))
        except (ValueError, TypeError, IndexError, OSError):
            return None

    def _parse(self, path: Path, rel: str, raw: bytes, template: bool) -> _FileResult:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            return _failed(rel, line, f"spec file is not valid UTF-8 (byte {exc.start}); save it as UTF-8")
        if template:
            if self.variables.diagnostics:
                return _failed(rel, 0, "template not rendered: fix the errors in the vars files first")
            plain = templating.substitute(text, self.variables.values)  # no Jinja needed: same text
            try:
                text = plain if plain is not None else templating.render(self.env, text, rel, self.variables.values)
            except templating.TemplateFailure as exc:
                return _failed(rel, exc.line, exc.message)
        doc = Document(rel, text, template)
        try:
            data, doc.root = yamlio.load(text)
        except yamlio.YamlError as exc:
            doc.add(exc.line, "", exc.message)
            return _FileResult(diagnostics=doc.diagnostics)
        videos = self._videos(path, doc, data)
        # the warnings are kept with the videos (and cached with them), so that showing
        # them never needs a cached video's request decoded
        unlisted = [(v.address, where, message) for v in videos for where, message in
                    vendor_lists.unlisted(v.provider, v.request)]
        return _FileResult(videos=videos, diagnostics=doc.diagnostics, decks=doc.decks, unlisted=unlisted)

    @property
    def env(self):
        if self._env is None:
            self._env = templating.environment()
        return self._env

    def _videos(self, path: Path, doc: "Document", data) -> list[DesiredVideo]:
        from reconciler.specs import schema

        merged = merged_videos(doc, data)
        valid, problems = schema.validate_videos(merged)
        for loc, message in problems:
            doc.field_error(loc, message)
        lines = yamlio.mapping_key_lines(yamlio.child(doc.root, "videos")[1])
        videos = [self._desired(path, doc, address, video, lines.get(address, 0))
                  for address, video in valid.items()]
        return [] if doc.diagnostics else videos

    def _desired(self, path: Path, doc: "Document", address: str, video: dict, line: int) -> DesiredVideo | None:
        from reconciler.specs import schema

        ppt_rel = ppt_sha = None
        raw_ppt = video.get("ppt_file")
        if raw_ppt is not None:
            target, problem = self.ppt_target(path, raw_ppt)
            if problem:
                doc.field_error((address, "ppt_file"), problem)
                return None
            ppt_rel, ppt_sha = discovery.rel(self.config, target), self.ppt_sha(target)
            doc.decks.append((raw_ppt, ppt_rel, ppt_sha))
        request = schema.request_body(video)
        provider = video["provider"]
        return DesiredVideo(address, provider, request, fingerprint(provider, request, ppt_sha),
                            doc.rel, line, video["labels"], video["prevent_destroy"], ppt_rel, ppt_sha,
                            schema.tts_chars(request))

    def ppt_target(self, spec_path: Path, raw: str) -> tuple[Path | None, str | None]:
        """The deck a ``ppt_file`` names, or why it cannot be used."""
        if os.path.isabs(raw):
            return None, f"{raw!r}: ppt_file must be a path relative to the spec file"
        target = Path(os.path.realpath(spec_path.parent / raw))
        if not target.is_relative_to(self.config.root):
            return None, f"{raw!r} leads outside the project ({target}); decks must be inside {self.config.root}"
        if not target.is_file():
            return None, f"{raw!r}: no such file ({discovery.rel(self.config, target)})"
        try:
            self.ppt_sha(target)
        except OSError as exc:
            return None, f"{raw!r}: cannot read: {exc.strerror}"
        return target, None

    def ppt_sha(self, target: Path) -> str:
        sha = self.ppt_hashes.get(target)
        if sha is None:
            sha = self.ppt_hashes[target] = file_sha256(target)
        return sha


# a cached row: the DesiredVideo fields but spec_file, with ``request`` marshalled apart
_ROW_FIELDS = tuple(LAZY_REQUEST if f.name == "request" else f.name
                    for f in dataclasses.fields(DesiredVideo) if f.name != "spec_file")
_REQUEST_AT = _ROW_FIELDS.index(LAZY_REQUEST)


def _payload(result: _FileResult) -> tuple:
    """What the cache keeps: plain tuples (DesiredVideo fields but spec_file, the request
    as marshal bytes: decoded only if read, ``model._LazyRequest``), decks and warnings."""
    fields = tuple("request" if name == LAZY_REQUEST else name for name in _ROW_FIELDS)
    rows = []
    for video in result.videos:
        row = list(map(video.__getattribute__, fields))
        row[_REQUEST_AT] = marshal.dumps(row[_REQUEST_AT])
        rows.append(tuple(row))
    return tuple(rows), tuple(result.decks), tuple(result.unlisted)


def _videos_from_rows(rows, rel: str) -> list[DesiredVideo]:
    """The videos of cached ``rows`` (made by ``_payload``), built without the frozen
    dataclass ``__init__`` (one ``object.__setattr__`` per field: a third of a warm load
    of 10,000 videos). The objects are equal to those ``__init__`` makes; a row of the
    wrong shape raises ValueError, which makes the entry a miss."""
    new, width, out = object.__new__, len(_ROW_FIELDS), []
    for row in rows:
        if len(row) != width or type(row[_REQUEST_AT]) is not bytes:
            raise ValueError("cached row of the wrong shape")
        video = new(DesiredVideo)
        fields = video.__dict__
        fields.update(zip(_ROW_FIELDS, row))
        fields["spec_file"] = rel
        out.append(video)
    return out


def _memorable(result: _FileResult) -> bool:
    return not result.diagnostics and not result.decks


def _failed(rel: str, line: int, message: str) -> _FileResult:
    return _FileResult(diagnostics=[Diagnostic(rel, line, "", message)])


