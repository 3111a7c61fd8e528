"""From spec files on disk to desired videos, with every problem as ``file:line``.

Per file: read bytes -> (cache hit? done) -> render Jinja for ``*.j2`` -> YAML 1.2 ->
structure (only ``defaults`` and ``videos``) -> addresses -> merge defaults -> pydantic
(all videos of the file at once) -> PPT path and hash checks -> request bodies and
fingerprints. Problems are collected, never raised one by one, so a user sees every
mistake of every file in one run; a file with any problem contributes no videos.
Cross-file problems (a duplicate address, output paths that collide) are checked over
the files that loaded.

Discovery follows a symlinked folder under ``specs/`` when it resolves inside the
project and refuses it (an error) when it leads outside: it is never silently
skipped, which would make its videos look deleted. Files are read with
``readfile`` (a FIFO named ``a.yaml`` is an error, not a hang). Bad input writes
nothing: the spec cache is written (and pruned) only after a load without errors.

Speed: the happy path is one libyaml parse plus one pydantic call per file, and a warm
run (``reconciler.specs.cache``) reads bytes, hashes them and loads plain tuples without
importing jinja2 or building a single model. Lines are looked up in the YAML node tree
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
from reconciler.specs import templating, vendor_lists
from reconciler.util import gcpause, readfile, yamlio
from reconciler.config import CONFIG_NAME, DEFAULT_VARS, Config
from reconciler.errors import Diagnostic, SpecErrors
from reconciler.specs.fingerprint import fingerprint
from reconciler.model import LAZY_REQUEST, DesiredVideo
from reconciler.specs.cache import CACHE_DIR, FORMAT, SpecCache
from reconciler.specs.memo import SpecMemo

SPEC_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
_OUTPUT_SUFFIX = ".mp4"  # outputs/<address>.mp4 (CONTRACT §2)
_TOP_KEYS = ("defaults", "videos")


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
    walked, found_problems = _walk(config)
    if memo is None:
        files = [Path(full) for full in walked]
        rels = _rels(config, files)
    else:  # the Path objects and relative names of the last load, for the files still there
        files, rels = memo.paths(walked, lambda new: _rels(config, new))
    vars_files = [(_rel(config, p), p) for p in config.vars_files]
    loader = _Loader(config, templating.load_variables(vars_files, dict(variables or {})),
                     SpecCache(config.state_dir / CACHE_DIR, enabled=use_cache), memo)
    load = SpecLoad(spec_files=files, errors=list(loader.variables.diagnostics) + found_problems)
    digest = hashlib.sha256(f"{loader.salt}\0{loader.variables.digest}\0".encode())
    for path, rel in zip(files, rels):
        result = loader.load_file(path, rel)
        digest.update(f"{rel}\0{result.key}\0".encode())
        if result.diagnostics:
            load.errors_by_file[rel] = sorted(result.diagnostics)
        else:
            load.videos_by_file[rel] = result.videos
            load.keys_by_file[rel] = result.key
            if result.unlisted:
                load.unlisted_by_file[rel] = result.unlisted
    for deck, sha in sorted((_rel(config, t), sha) for t, sha in loader.ppt_hashes.items()):
        digest.update(f"{deck}\0{sha}\0".encode())
    load.errors += duplicates(load.videos_by_file) + collisions(load.videos_by_file)
    load.watched_files = _watched(config, files, loader.ppt_hashes)
    load.digest = digest.hexdigest()
    listing_changed = memo is None or memo.listing_changed(rels)
    if load.all_errors():
        return load  # bad input writes nothing, not even the cache of the good files
    loader.flush_cache()
    if listing_changed:
        loader.cache.prune(rels)
    return load


def discover(config: Config) -> list[Path]:
    """Spec files under the specs folder, recursively, sorted; hidden files and dirs skipped."""
    return [Path(full) for full in _walk(config)[0]]


def _walk(config: Config) -> tuple[list[str], list[Diagnostic]]:
    """``discover`` as strings, sorted by the posix path under the specs folder (computed
    by string: pathlib's ``relative_to`` per file cost ~50 ms for 10,000 files), and the
    problems met. A symlinked folder is followed when it resolves inside the project
    (each real folder once, so a link loop ends) and is an error when it leads outside:
    never skipped in silence, which would make its videos look deleted."""
    top = os.fspath(config.specs_dir)
    root = os.fspath(config.root)
    found, problems, seen = [], [], {os.path.realpath(top)}  # found: (posix path under specs: the sort key, full)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True, onerror=lambda exc: _unreadable(
            config, exc, problems)):
        kept = []
        for d in dirnames:
            if d.startswith("."):
                continue
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                real = os.path.realpath(full)
                if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                    problems.append(Diagnostic(_rel(config, Path(full)), 0, "", (
                        f"a symlink that leads outside the project ({real}); specs must lie inside the "
                        "project: move them in, or remove the link")))
                    continue
                if real in seen:
                    continue
                seen.add(real)
            kept.append(d)
        dirnames[:] = kept
        sub = dirpath[len(top):].lstrip(os.sep).replace(os.sep, "/")
        folder = dirpath if dirpath.endswith(os.sep) else dirpath + os.sep  # os.path.join, inlined
        for n in filenames:
            if not n.endswith(SPEC_SUFFIXES) or n.startswith("."):
                continue
            if os.path.islink(folder + n) and not os.path.realpath(folder + n).startswith(root.rstrip(os.sep) + os.sep):
                problems.append(Diagnostic(_rel(config, Path(folder + n)), 0, "", (
                    f"a symlink that leads outside the project ({os.path.realpath(folder + n)}); specs must lie "
                    "inside the project: move them in, or remove the link")))
                continue
            found.append((f"{sub}/{n}" if sub else n, folder + n))
    found.sort(key=_first)
    return [full for _, full in found], problems


def _unreadable(config: Config, exc: OSError, problems: list[Diagnostic]) -> None:
    if not isinstance(exc, FileNotFoundError):  # no specs folder: no specs (validate says so)
        where = _rel(config, Path(exc.filename)) if exc.filename else config.file.specs
        problems.append(Diagnostic(where, 0, "", f"cannot read the folder: {readfile.why(exc)}"))


def duplicates(videos_by_file: dict[str, list[DesiredVideo]]) -> list[Diagnostic]:
    """A duplicate address is reported at each of its places, each naming the other."""
    if _all_distinct(videos_by_file):
        return []
    places: dict[str, list[DesiredVideo]] = {}
    for rel in sorted(videos_by_file):
        for video in videos_by_file[rel]:
            places.setdefault(video.address, []).append(video)
    out = []
    for address, videos in places.items():
        for video in videos if len(videos) > 1 else ():
            others = ", ".join(f"{o.spec_file}:{o.line}" for o in videos if o is not video)
            out.append(Diagnostic(video.spec_file, video.line, f"videos.{address}",
                                  f"duplicate address: also defined at {others}"))
    return out


def _all_distinct(videos_by_file: dict[str, list[DesiredVideo]]) -> bool:
    """The common case, checked in C: no address is defined twice."""
    total = sum(map(len, videos_by_file.values()))
    return len({v.address for videos in videos_by_file.values() for v in videos}) == total


def collisions(videos_by_file: dict[str, list[DesiredVideo]]) -> list[Diagnostic]:
    """Addresses whose output files collide (CONTRACT §2): one's file would have to be a
    folder of the other's (``c`` and ``c.mp4/x``), or they differ only in letter case
    (one file on a case-insensitive disk). Reported at each place, naming the other."""
    if _no_collision(videos_by_file):
        return []
    videos = sorted((v for vs in videos_by_file.values() for v in vs), key=lambda v: v.address)
    by_file: dict[str, list[int]] = {}  # casefolded output file -> indexes into videos
    for i, video in enumerate(videos):
        by_file.setdefault((video.address + _OUTPUT_SUFFIX).casefold(), []).append(i)
    pairs = set()
    for same in by_file.values():
        if len(same) > 1:
            pairs |= {(i, j, "case") for i in same for j in same if videos[i].address < videos[j].address}
    for j, video in enumerate(videos):
        if _OUTPUT_SUFFIX not in video.address.casefold().rpartition("/")[0]:
            continue  # only a folder named like an output file can be one
        parts = video.address.casefold().split("/")
        for n in range(1, len(parts)):
            pairs |= {(i, j, "folder") for i in by_file.get("/".join(parts[:n]), ())}
    out = []
    for i, j, kind in sorted(pairs):
        a, b = videos[i], videos[j]
        if kind == "case":
            why = "the two differ only in letter case, so their output files are one file on a case-insensitive disk"
        else:
            why = f"{a.address}{_OUTPUT_SUFFIX} would have to be both the output file of {a.address} and a folder of {b.address}'s"
        for here, there in ((a, b), (b, a)):
            out.append(Diagnostic(here.spec_file, here.line, f"videos.{here.address}",
                                  f"output path collides with {there.address} ({there.spec_file}:{there.line}): {why}"))
    return out


def _no_collision(videos_by_file: dict[str, list[DesiredVideo]]) -> bool:
    """The common case, checked in C: the addresses stay distinct when casefolded, and
    none holds ``.mp4`` at all (so no folder part of one can be another's output file)."""
    addresses = [v.address for videos in videos_by_file.values() for v in videos]
    folded = "\n".join(addresses).casefold()  # no address holds a newline (address_problem)
    return _OUTPUT_SUFFIX not in folded and len(set(folded.split("\n"))) == len(addresses)


def _watched(config: Config, files: list[Path], ppts: dict[Path, str]) -> set[Path]:
    vars_files = set(config.vars_files) or {config.root / n for n in DEFAULT_VARS}
    return set(files) | vars_files | {config.root / CONFIG_NAME} | set(ppts)


def _rels(config: Config, paths: list[Path]) -> list[str]:
    """``_rel`` of each path, by string slicing for paths under the root (pathlib's
    ``relative_to`` costs ~5 µs a path: 50 ms per load of 10,000 files)."""
    root = os.fspath(config.root)
    prefix = root if root.endswith(os.sep) else root + os.sep
    out = []
    for path in paths:
        text = os.fspath(path)
        out.append(text[len(prefix):].replace(os.sep, "/") if text.startswith(prefix) else _rel(config, path))
    return out


def _rel(config: Config, path: Path) -> str:
    try:
        return path.relative_to(config.root).as_posix()
    except ValueError:
        return config.rel(path)


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
                if problem or _rel(self.config, target) != ppt_rel or self.ppt_sha(target) != sha:
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
        doc = _Document(rel, text, template)
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

    def _videos(self, path: Path, doc: "_Document", data) -> list[DesiredVideo]:
        from reconciler.specs import schema

        merged = _merged_videos(doc, data)
        models, problems = schema.validate_videos(merged)
        for loc, message in problems:
            doc.field_error(loc, message)
        lines = yamlio.mapping_key_lines(yamlio.child(doc.root, "videos")[1])
        videos = [self._desired(path, doc, address, model, lines.get(address, 0))
                  for address, model in models.items()]
        return [] if doc.diagnostics else videos

    def _desired(self, path: Path, doc: "_Document", address: str, model, line: int) -> DesiredVideo | None:
        from reconciler.specs import schema

        ppt_rel = ppt_sha = None
        raw_ppt = getattr(model, "ppt_file", None)
        if raw_ppt is not None:
            target, problem = self.ppt_target(path, raw_ppt)
            if problem:
                doc.field_error((address, "ppt_file"), problem)
                return None
            ppt_rel, ppt_sha = _rel(self.config, target), self.ppt_sha(target)
            doc.decks.append((raw_ppt, ppt_rel, ppt_sha))
        request = schema.request_body(model)
        return DesiredVideo(address, model.provider, request, fingerprint(model.provider, request, ppt_sha),
                            doc.rel, line, model.labels, model.prevent_destroy, ppt_rel, ppt_sha,
                            schema.tts_chars(request))

    def ppt_target(self, spec_path: Path, raw: str) -> tuple[Path | None, str | None]:
        """The deck a ``ppt_file`` names, or why it cannot be used."""
        if os.path.isabs(raw):
            return None, f"{raw!r}: ppt_file must be a path relative to the spec file"
        target = Path(os.path.realpath(spec_path.parent / raw))
        if not target.is_relative_to(self.config.root):
            return None, f"{raw!r} leads outside the project ({target}); decks must be inside {self.config.root}"
        if not target.is_file():
            return None, f"{raw!r}: no such file ({_rel(self.config, target)})"
        try:
            self.ppt_sha(target)
        except OSError as exc:
            return None, f"{raw!r}: cannot read: {exc.strerror}"
        return target, None

    def ppt_sha(self, target: Path) -> str:
        sha = self.ppt_hashes.get(target)
        if sha is None:
            with open(target, "rb") as fh:
                sha = self.ppt_hashes[target] = hashlib.file_digest(fh, "sha256").hexdigest()
        return sha


_first = operator.itemgetter(0)
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


def _merged_videos(doc: "_Document", data) -> dict[str, dict]:
    """Check the file's shape and addresses; return each video with defaults merged."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        doc.error((), "", "a spec file must be a mapping with `defaults` and `videos`")
        return {}
    for key in data:
        if key not in _TOP_KEYS:
            doc.error((key,), str(key), "unknown top-level key (a spec file holds only `defaults` and `videos`)")
    defaults, videos = _or_empty(data.get("defaults")), _or_empty(data.get("videos"))
    if not isinstance(defaults, dict):
        doc.error(("defaults",), "defaults", "must be a mapping of video fields")
        return {}
    if not isinstance(videos, dict):
        doc.error(("videos",), "videos", "must be a mapping of addresses to videos")
        return {}
    merged = {address: merge(defaults, body) for address, body in videos.items() if _check_entry(doc, address, body)}
    return merged if _bounded(doc, defaults, merged) else {}


def _bounded(doc: "_Document", defaults: dict, merged: dict[str, dict]) -> bool:
    """Whether the merged videos stay within what the file could spell out: an aliased
    structure in ``defaults`` is validated once per video, so a small file with aliases
    (or a big ``defaults`` under many videos) could otherwise cost hours."""
    limit = len(doc.text) + yamlio.MAX_ALIAS_EXPANSION
    memo: dict = {}
    if "*" not in doc.text and len(merged) * yamlio.expanded_size(defaults, memo) <= limit:
        return True  # no alias, and the defaults are small enough to be copied under every video
    total = sum(yamlio.expanded_size(video, memo) for video in merged.values())
    if total <= limit:
        return True
    doc.error(("defaults",), "defaults", f"merged under the videos, defaults and aliases expand to {total:,} values "
                                         f"(more than {limit:,}); write the videos out or use fewer aliases")
    return False


def _or_empty(value):
    return {} if value is None else value


def _check_entry(doc: "_Document", address, body) -> bool:
    from reconciler.specs.schema import address_problem

    problem = address_problem(address)
    if problem is None and not isinstance(body, (dict, type(None))):
        problem = "a video must be a mapping of fields"
    if problem:
        doc.error(("videos", address), f"videos.{address}", problem)
    return problem is None


def merge(base: dict, over: dict | None) -> dict:
    """``over`` on top of ``base``: mappings key by key, lists and scalars replaced whole."""
    if not over:
        return base
    if not base:
        return over
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


class _Document:
    """One parsed (maybe rendered) file: turns error paths into ``file:line`` diagnostics."""

    def __init__(self, rel: str, text: str, template: bool):
        self.rel, self.text, self.template = rel, text, template
        self.root = None
        self.diagnostics: list[Diagnostic] = []
        self.decks: list[tuple] = []

    def add(self, line: int, where: str, message: str) -> None:
        if self.template and line:
            lines = self.text.splitlines()
            shown = lines[line - 1].strip() if line <= len(lines) else ""
            message += f" (rendered line {line}: {shown[:120]})"
        self.diagnostics.append(Diagnostic(self.rel, line, where, message))

    def error(self, path: tuple, where: str, message: str) -> None:
        self.add(yamlio.locate(self.root, path)[0], where, message)

    def field_error(self, loc: tuple, message: str) -> None:
        """An error at ``loc`` = (address, field, ...): found in the video or its defaults."""
        address, sub = loc[0], tuple(loc[1:])
        line, found = yamlio.locate(self.root, ("videos", address) + sub)
        if not found and sub:
            default_line, in_defaults = yamlio.locate(self.root, ("defaults",) + sub)
            if in_defaults:
                line, message = default_line, f"{message} (from defaults)"
        self.add(line, f"videos.{address}{_where(sub)}", message)


def _where(sub: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in sub)
