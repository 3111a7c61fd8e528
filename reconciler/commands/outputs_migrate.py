"""`reconciler outputs migrate --to LOCATION`: move a state's outputs to another place
(docs/outputs.md): a folder to a bucket, back, or to another folder or bucket.

Why: changing ``outputs:`` moves nothing, and is refused until the outputs are where it
says (``state/outputs_location``). This command is how they get there, without a render
or a vendor download:

- it takes the writer lock (like apply): nothing publishes meanwhile;
- the source is where the state records its outputs (so it works before or after the
  line of reconciler.yaml is edited); it is only read, and left as it was;
- the target's marker (``outputs/move``) names this state: a target holding
  another state's outputs, or files of its own with no marker, is refused;
- every published output and every cached render is copied and verified by sha256; a
  copy already there with the recorded bytes is skipped, so a run interrupted half-way
  completes when run again; bytes at the source that are not the recorded ones are not
  copied (said, and left to ``refresh`` at the new place: fetched again or reported
  lost); an output kept on another checkout's folder stops the switch (run it there);
- only then are the records switched, in one transaction (``Store.move_outputs``: each
  published file, and the state's outputs location), and the manifest rewritten. From
  then on a command with the old ``outputs:`` refuses, naming the line to change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid

from reconciler.apply.engine import to_collect
from reconciler.commands.apply import report_takeover
from reconciler.errors import ReconcilerError
from reconciler.outputs import open_outputs, rules
from reconciler.outputs.move import MARKER, Places, SourceDamaged
from reconciler.state import outputs_location
from reconciler.state import store as state_store

STATE_ID = "state_id"  # meta: this state's identity, named by the markers of the places holding its outputs


def run(project, to: str) -> int:
    config = project.config()
    target = outputs_location.normal(config, to)
    lock = state_store.writer_lock(config).acquire("outputs migrate")
    try:
        report_takeover(lock)
        store = state_store.open_store(config)
        try:
            done = _migrate(config, store, target)
        finally:
            store.close()
    finally:
        lock.release()
    for line in done["notes"]:
        print(line)
    print(f"Copied {done['outputs']} output(s) and {done['cached']} cached render(s) from {done['source']} to "
          f"{target}, each verified by sha256 ({done['skipped']} already there). The state now records its outputs "
          f"at {target}; nothing was rendered or downloaded from a vendor, and {done['source']} is unchanged.")
    configured = outputs_location.configured(config)
    if configured == target:
        print(f"{outputs_location.config_line(config)} already says `outputs: {target}`: nothing more to change.")
    else:
        print(f"Now change {outputs_location.config_line(config)} to `outputs: {target}` (it says "
              f"`outputs: {configured}`); until then plan, apply, refresh and watch refuse.")
    return 0


def _migrate(config, store, target: str) -> dict:
    recorded = store.recorded()
    source = outputs_location.recorded_location(store) or outputs_location.configured(config)
    _check_places(source, target)
    waiting = sorted(a for a, v in recorded.items() if to_collect(v))
    if waiting:
        raise ReconcilerError(
            f"outputs migrate: {len(waiting)} finished render(s) are not published yet ({', '.join(waiting[:5])}); "
            f"run `reconciler refresh` with `outputs: {source}` first. Nothing was copied.")
    state_id = store.meta(STATE_ID)
    if state_id is None:
        state_id = uuid.uuid4().hex
        store.set_meta({STATE_ID: state_id})
    places = Places(config)
    places.tidy()
    _claim(places, store, source, target, state_id)

    there = _store_at(config, target)
    place = there.place()  # a folder: this checkout, which holds the copies; a bucket: every checkout
    files: dict[str, tuple[str, str | None]] = {}
    counts = {"outputs": 0, "cached": 0, "skipped": 0}
    not_there: list[str] = []  # damaged at the source: recorded at the target, for refresh to settle
    elsewhere: list[str] = []  # in another checkout's folder: the switch waits for it
    for address, video in sorted(recorded.items()):
        if not video.output_file or video.output_sha256 is None or video.output_bytes is None:
            continue
        dest = Places.output_ref(target, address, video.output_sha256)
        files[address] = (dest, place)
        if video.output_lost:
            continue
        try:
            counts[_copy(places, video.output_file, dest, video.output_sha256, video.output_bytes) or "outputs"] += 1
            with contextlib.suppress(OSError, ReconcilerError):  # a poster is a picture: the gallery makes one if none
                places.copy_poster(video.output_file, dest)
        except SourceDamaged as why:
            holder = rules.kept_elsewhere(config, video)
            if holder and Places.in_folder(video.output_file):
                elsewhere.append(f"{address}: {video.output_file} is on {holder}")
            else:
                not_there.append(f"{address}: {why}")
    dropped = []
    for fingerprint, entry in sorted(store.cache_index().items()):
        try:
            counts[_copy(places, Places.cache_ref(source, fingerprint), Places.cache_ref(target, fingerprint),
                         entry["sha256"], entry["bytes"]) or "cached"] += 1
        except SourceDamaged:
            dropped.append(fingerprint)
    if elsewhere:
        raise ReconcilerError(
            f"outputs migrate: {len(elsewhere)} output(s) are kept in another checkout's folder, so they cannot be "
            f"copied from here:\n" + "\n".join(f"  {line}" for line in elsewhere[:10]) +
            f"\nRun `reconciler outputs migrate --to {target}` on that machine too, then here again (what is "
            "copied already is kept and skipped). The state still records its outputs at " + source + ".")
    for fingerprint in dropped:
        store.cache_drop(fingerprint)  # never served from a place that lacks its bytes
    store.move_outputs(files, {outputs_location.KEY: target, outputs_location.PREVIOUS: source},
                       there.cache_location())
    _write_manifest(config, store, there)
    notes = []
    if not_there:
        notes.append(f"{len(not_there)} output(s) were missing or damaged at {source}, so they were not copied; "
                     f"`reconciler refresh` (with `outputs: {target}`) fetches them again from the vendor where it "
                     "can, or reports them lost:")
        notes += [f"  {line}" for line in not_there[:10]]
    if dropped:
        notes.append(f"{len(dropped)} cached render(s) were missing or damaged at {source}: dropped from the render "
                     "cache (a plan counts their renders again).")
    return {**counts, "source": source, "notes": notes}


def _check_places(source: str, target: str) -> None:
    if target == source:
        raise ReconcilerError(f"outputs migrate: the state's outputs are already at {target}; nothing to do")
    if Places.in_folder(source) and Places.in_folder(target) and (
            target.startswith(source + "/") or source.startswith(target + "/")):
        raise ReconcilerError(f"outputs migrate: {target} and {source} lie inside one another; choose a folder "
                              "beside the current one")


def _claim(places: Places, store, source: str, target: str, state_id: str) -> None:
    """Refuse a target holding another state's outputs; mark it as this state's."""
    marker = places.marker(target)
    if marker is not None and marker.get("state") != state_id:
        raise ReconcilerError(
            f"outputs migrate: {target} holds the outputs of another state ({target}/{MARKER} names state "
            f"{marker.get('state')}, this one is {state_id}); choose an empty location. Nothing was copied.")
    if marker is None:
        if places.holds_anything(target) and store.meta(outputs_location.PREVIOUS) != target:
            raise ReconcilerError(
                f"outputs migrate: {target} already holds files that this state did not put there; choose an empty "
                "location. Nothing was copied.")
        places.write_marker(target, {"format_version": 1, "state": state_id, "from": source})


def _copy(places: Places, source: str, dest: str, sha256: str, size: int) -> str | None:
    """Copy one file, verified; "skipped" when ``dest`` already holds it."""
    if places.holds(dest, sha256, size):
        return "skipped"
    places.copy(source, dest, sha256, size)
    return None


def _store_at(config, target: str):
    """The outputs store at ``target``: this project's, with ``outputs:`` saying ``target``
    (opening it makes no network call)."""
    return open_outputs(dataclasses.replace(config, file=dataclasses.replace(config.file, outputs=target)))


def _write_manifest(config, store, there) -> None:
    """The manifest follows the state, with the public URLs of the new place."""
    from reconciler.state import manifest_writer

    public_url = there.public_url if config.file.outputs_public_url else None
    manifest_writer.ManifestWriter(config.manifest_path, store, public_url=public_url).flush(force=True)
