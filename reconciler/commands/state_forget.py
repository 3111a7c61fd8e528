"""`reconciler state forget ADDR... [--abandon]`: drop videos from the state and the
manifest, without any vendor call and without deleting any output (docs/team.md;
Terraform's ``state rm``).

Why: a person sometimes needs the state to let go of a video (to import another task
for it, to hand it to another project, to start it afresh) without the cost or the
damage of a delete. So:

- all or nothing: an address the state does not record is an error naming it, and
  nothing is forgotten;
- a render in flight (rendering, ``unknown``, a dead writer's ``pending``, or finished
  and not downloaded yet) is refused unless ``--abandon``: forgetting it means nothing
  will ever download it, while it keeps running (and is billed) at the vendor;
- it takes the writer lock like apply/refresh/watch, forgets in one transaction (the
  history stays, each attempt marked ``forgotten``), writes the manifest, and says what
  it forgot. The output file or object and the render cache are left as they are, so
  the next plan proposes each video still in the specs as new, served from the render
  cache (no render) where the cache holds its fingerprint.
"""

from __future__ import annotations

from reconciler.apply.engine import to_collect
from reconciler.commands.apply import report_takeover
from reconciler.errors import ReconcilerError
from reconciler.model import RecordedVideo, Status, display_name
from reconciler.state import store as state_store


def run(project, addresses: tuple[str, ...], abandon: bool) -> int:
    config = project.config()
    wanted = list(dict.fromkeys(addresses))
    lock = state_store.writer_lock(config).acquire("state forget")
    try:
        report_takeover(lock)
        store = state_store.open_store(config)
        try:
            recorded = state_store.as_recovered(store.recorded())  # a dead writer's intent: an unknown create
            _check(wanted, recorded, abandon)
            store.forget(wanted)
            _write_manifest(config, store)
        finally:
            store.close()
    finally:
        lock.release()
    for address in wanted:
        print(_forgotten(recorded[address]))
    print(f"Forgot {len(wanted)} video(s); no vendor was called and no output was deleted. The next plan proposes "
          "each one still in the specs as new (served from the render cache, no render, where it holds it).")
    return 0


def in_flight(video: RecordedVideo) -> bool:
    """A render that may still be running, or finished with its output not downloaded:
    forgetting it means nothing will download it."""
    return video.status in (Status.RENDERING, Status.UNKNOWN, Status.PENDING) or to_collect(video)


def _check(wanted: list[str], recorded: dict[str, RecordedVideo], abandon: bool) -> None:
    missing = [a for a in wanted if a not in recorded]
    if missing:
        raise ReconcilerError(f"state forget: not in the state: {', '.join(missing)}. Nothing was forgotten "
                              "(`reconciler status` lists what the state records).")
    busy = [recorded[a] for a in wanted if in_flight(recorded[a])]
    if busy and not abandon:
        lines = "\n".join(f"  {v.address}: {_flight(v)}" for v in busy)
        raise ReconcilerError(
            f"state forget: {len(busy)} video(s) have a render in flight; forgetting one leaves it running at the "
            f"vendor (maybe billed) and nothing will download it. Nothing was forgotten.\n{lines}\n"
            "Let them finish (`reconciler refresh`; an unknown create is settled by `reconciler state import ADDR "
            "TASK_ID`), or give --abandon to forget them anyway.")


def _flight(video: RecordedVideo) -> str:
    if video.status is Status.UNKNOWN:
        return "its create's outcome is unknown (sent, answer lost: it may be rendering)"
    if video.status is Status.FINISHED:
        return f"task {video.task_id} finished, its output not downloaded yet"
    return f"task {video.task_id} is {video.status.value}"


def _forgotten(video: RecordedVideo) -> str:
    vendor = display_name(video.provider)
    task = f"{vendor} task {video.task_id}" if video.task_id else f"{vendor}, no task"
    line = f"Forgot {video.address} ({task}, {video.status.value})"
    if video.output_file and not video.output_lost:
        line += f"; its output {video.output_file} is kept"
    if in_flight(video):
        line += "; its render was abandoned: it may keep running at the vendor, nothing will download it"
    return line + "."


def _write_manifest(config, store) -> None:
    """The manifest follows the state (the one writer the engine uses too)."""
    from reconciler.outputs import open_outputs
    from reconciler.state import manifest_writer

    public_url = open_outputs(config).public_url if config.file.outputs_public_url else None
    manifest_writer.ManifestWriter(config.manifest_path, store, public_url=public_url).flush(force=True)
