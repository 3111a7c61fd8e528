"""Where a state's outputs are, and the refusal to run against another place (issue 22).

Why a module of its own: changing ``outputs:`` in reconciler.yaml moves nothing. Before
this, every published file stayed at the old place while plan, doctor and the manifest
carried on as if all was well. So the state records the location its published outputs
and render cache are at (the ``meta`` row ``outputs_location``: a project-relative
folder such as ``outputs``, or ``s3://bucket/prefix``), and:

- ``require`` (plan, apply, doctor) and ``settle`` (refresh, watch, cache prune, state
  import: writers, which also ``record`` the location of a state that has none yet;
  apply records it once its plan is approved) refuse, exit 1,
  when the configured ``outputs:`` is another place, naming the command that moves them
  (``reconciler outputs migrate --to <configured>``), or, after that command moved them,
  the line of reconciler.yaml to change;
- a state written before the row existed has its location read off its published
  outputs (``derived``), so a switch made before this version is caught too.

The records follow the outputs: ``outputs migrate`` rewrites them and this row in one
transaction (``Store.move_outputs``) once every copy is verified, like Terraform's state
after ``init -migrate-state``; the config line is then the one thing left to change.
"""

from __future__ import annotations

from reconciler.config import Config, key_place
from reconciler.errors import ConfigError
from reconciler.model import RecordedVideo
from reconciler.util import s3url

KEY = "outputs_location"  # meta: where the published outputs and the render cache are
PREVIOUS = "outputs_previous"  # meta: where they were before the last `outputs migrate`
SUFFIX = ".mp4"


def configured(config: Config) -> str:
    """The ``outputs:`` setting as recorded: ``s3://bucket/prefix`` or a project-relative folder."""
    return config.outputs_location.url if config.outputs_location is not None else config.rel(config.outputs_dir)


def normal(config: Config, value: str) -> str:
    """A location given by a person (``--to``), as ``configured`` would record it
    (ConfigError for an ``s3://`` URL that names no bucket, or another scheme)."""
    if s3url.is_s3(value):
        try:
            return s3url.parse(value).url
        except s3url.S3UrlError as exc:
            raise ConfigError(f"--to {value}: {exc}") from None
    if "://" in value:
        raise ConfigError(f"--to {value}: must be a folder or s3://BUCKET/PREFIX")
    return config.rel(config.root / value)


def derived(recorded: dict[str, RecordedVideo]) -> str | None:
    """The location the published outputs of ``recorded`` are at (a state written before
    the location was recorded), or None when none is published."""
    for address, video in sorted(recorded.items()):
        file = video.output_file
        if not file or video.output_lost:
            continue
        if s3url.is_s3(file):
            head, _, name = file.rpartition("/")
            if head.endswith("/" + address):
                return head[:-len(address) - 1]
        elif file.endswith(f"/{address}{SUFFIX}"):
            return file[:-len(address) - len(SUFFIX) - 1]
    return None


def recorded_location(store, recorded: dict[str, RecordedVideo] | None = None) -> str | None:
    """Where ``store``'s outputs are: its row, else read off its published outputs
    (``recorded``: the caller's copy of them, if it has one)."""
    return store.meta(KEY) or derived(store.recorded() if recorded is None else recorded)


def problem(config: Config, store, recorded: dict[str, RecordedVideo] | None = None) -> str | None:
    """Why ``config`` may not publish into ``store``'s outputs (another location), or None."""
    at, wanted = recorded_location(store, recorded), configured(config)
    if at is None or at == wanted:
        return None
    line = config_line(config)
    if store.meta(PREVIOUS) == wanted:
        return (f"`reconciler outputs migrate` moved this state's outputs and render cache to {at}, but "
                f"{line} still says `outputs: {wanted}`: change it to `outputs: {at}`. Nothing was changed.")
    return (f"{line} says `outputs: {wanted}`, but this state's published outputs and render cache are at {at}; "
            f"changing `outputs:` moves nothing. Run `reconciler outputs migrate --to {wanted}` (it copies them, "
            f"verified, and the state then records them there), or put back `outputs: {at}`. Nothing was changed.")


def require(config: Config, recorded: dict[str, RecordedVideo] | None = None) -> None:
    """ConfigError when the configured outputs are not where the state's are (read-only;
    ``recorded``: the videos the caller read already)."""
    from reconciler.state import store as state_store

    store = state_store.open_store(config, readonly=True)
    try:
        check(config, store, recorded)
    finally:
        store.close()


def check(config: Config, store, recorded: dict[str, RecordedVideo] | None = None) -> None:
    """``require`` with a store the caller has open."""
    why = problem(config, store, recorded)
    if why:
        raise ConfigError(why)


def settle(config: Config, store) -> None:
    """For a writer holding the lock: ``check``, and record the location where the
    state has none yet (its first run, or one written before this version)."""
    check(config, store)
    record(config, store)


def record(config: Config, store) -> None:
    """Record the configured location in a state that has none yet (a writer, after
    ``require``: apply once its plan is approved, so a refused apply writes nothing)."""
    if store.meta(KEY) is None:
        store.set_meta({KEY: configured(config)})


def config_line(config: Config) -> str:
    """``reconciler.yaml:N`` of the ``outputs:`` key (for messages), or the file alone."""
    return key_place(config.root, "outputs")
