"""`reconciler state import ADDR TASK_ID`: adopt a render that exists at the vendor as
ADDR's current render, without sending a create (docs/team.md; Terraform's ``import``).

Why: after a kill, every create that was in flight is ``unknown`` (sent, answer lost,
maybe paid). A plain apply never sends it again, and ``--replace`` pays a second time.
A person who finds the task in the vendor's console settles it here instead:

- ADDR must be a video of the specs (its fingerprint is what the import records: the
  person vouches that the task renders that spec, and the command says so);
- a video the state already manages is not imported over (Terraform's "Resource
  already managed"): one rendering or finished with its output is refused, naming
  ``state forget`` as the way to let go of it first. ``unknown``, ``failed``,
  ``cancelled``, a dead writer's ``pending``, an output lost, or no row at all: importable;
- the vendor is asked about the task with a free status call first: a task it does not
  know (or one it reports failed or cancelled: nothing to adopt) is refused, exit 1,
  and nothing is written — not even a dead writer's intents turned ``unknown``;
- it takes the writer lock like apply/refresh/watch, then records the task (a history
  row of its own, ``holder`` ``state import``), writes the manifest, and, when the
  task has finished, downloads its output now through ``apply.follow`` like any other
  render. A task still rendering is downloaded by the next apply, refresh or watch.
"""

from __future__ import annotations

import asyncio
import difflib

from reconciler.apply.engine import Engine, ProviderSet, to_collect
from reconciler.apply.events import Kind, make_hooks
from reconciler.commands.apply import check_credentials, report_takeover
from reconciler.config import account as config_account
from reconciler.errors import PermanentError, ProviderError, ReconcilerError
from reconciler.model import DesiredVideo, RecordedVideo, Status, display_name
from reconciler.state import store as state_store


def run(project, address: str, task_id: str, variables: dict[str, str]) -> int:
    from rich.console import Console

    config = project.config()
    task_id = task_id.strip()
    if not task_id:
        raise ReconcilerError("state import: TASK_ID is empty; give the task id the vendor's console shows")
    desired = _desired(config, address, variables)
    check_credentials(config, {desired.provider})
    out = Console(highlight=False, markup=False, soft_wrap=True)  # addresses and task ids as typed
    lock = state_store.writer_lock(config).acquire("state import")
    try:
        report_takeover(lock)
        store = state_store.open_store(config)
        try:
            from reconciler.state import outputs_location

            outputs_location.settle(config, store)  # never download into a place the state's outputs left
            recorded = state_store.as_recovered(store.recorded())  # a dead writer's intent is an unknown create
            _check_importable(desired, task_id, recorded)
            return asyncio.run(_import(config, store, desired, task_id, recorded.get(address), out))
        finally:
            store.close()
    finally:
        lock.release()


def _desired(config, address: str, variables: dict[str, str]) -> DesiredVideo:
    """ADDR as the specs describe it now (the import records its fingerprint)."""
    from reconciler.commands import specwarn
    from reconciler.specs import loader

    load = loader.load_specs(config, variables)
    desired = load.desired()
    specwarn.report(config, load)
    if address not in desired:
        near = difflib.get_close_matches(address, list(desired), n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ReconcilerError(f"state import: {address} is not a video of the specs{hint}; a task is imported "
                              "as the render of a video the specs describe. Nothing was changed.")
    return desired[address]


def _check_importable(desired: DesiredVideo, task_id: str, recorded: dict[str, RecordedVideo]) -> None:
    """Refuse to import over a render the state already manages, or a task that is
    another video's render of a different spec."""
    address, video = desired.address, recorded.get(desired.address)
    from reconciler.commands.state_forget import in_flight

    forget = f"`reconciler state forget {address}" + (" --abandon`" if video is not None and in_flight(video)
                                                      else "`")
    if video is not None and video.task_id == task_id and video.status in (Status.RENDERING, Status.FINISHED):
        raise ReconcilerError(f"state import: task {task_id} is already {address}'s render ({video.status.value}): "
                              "nothing to import. Nothing was changed.")
    if video is not None and video.status is Status.RENDERING:
        raise ReconcilerError(
            f"state import: {address} is already managed: its render (task {video.task_id}) is in flight. "
            f"Nothing was changed. `reconciler refresh` follows it; to adopt task {task_id} instead, run "
            f"{forget} first.")
    if video is not None and video.status is Status.FINISHED and not video.output_lost:
        what = ("its output is not downloaded yet (`reconciler refresh` downloads it)" if to_collect(video)
                else f"its output is {video.output_file}")
        raise ReconcilerError(
            f"state import: {address} is already managed: task {video.task_id} finished and {what}. "
            f"Nothing was changed. To adopt task {task_id} instead, run {forget} first.")
    for other in recorded.values():
        if (other.address != address and other.provider == desired.provider
                and task_id in (other.task_id, other.output_task_id) and other.fingerprint != desired.fingerprint):
            raise ReconcilerError(
                f"state import: task {task_id} is already the render of {other.address}, from another spec; "
                f"check the task id in the {display_name(desired.provider)} console. Nothing was changed.")


async def _import(config, store, desired: DesiredVideo, task_id: str, before: RecordedVideo | None, out) -> int:
    providers = ProviderSet(config)
    try:
        status = await _ask_vendor(providers[desired.provider], desired, task_id)
    except BaseException:
        for provider in providers.built():
            await provider.aclose()
        raise
    from reconciler.providers.base import TaskState

    finished = status.state is TaskState.FINISHED
    hooks = _Settled(make_hooks(), desired.address)
    engine = Engine(config, store, providers, hooks, holder=state_store.IMPORT_HOLDER)
    hooks.start()
    try:
        engine.recover()  # as every writer does first: a dead writer's intents become unknown
        await engine.db(store.import_task, desired, task_id, Status.FINISHED if finished else Status.RENDERING,
                        holder=engine.holder, video_url=status.video_url,
                        preview_image_url=status.preview_image_url, finished_at=status.finished_at,
                        account=config_account.account(config, desired.provider))
        engine.manifest.changed()
        _said_imported(out, desired, task_id, before, status.raw_state or status.state.value)
        if finished:
            await engine.track_unfinished([desired.address])
            await engine.wait()
    finally:
        hooks.close()
        await engine.close()
    return _said_after(out, engine, store, desired, task_id, finished)


class _Settled:
    """The command's hooks, without the "create in flight when an earlier run stopped"
    of the address being imported: this import is what settles it."""

    def __init__(self, inner, address: str):
        self.inner, self.address = inner, address

    def start(self) -> None:
        self.inner.start()

    def close(self) -> None:
        self.inner.close()

    def event(self, event) -> None:
        if not (event.kind is Kind.RECOVERED and event.address == self.address):
            self.inner.event(event)


async def _ask_vendor(provider, desired: DesiredVideo, task_id: str):
    """The task's state at the vendor (a free status call), or a refusal naming why."""
    from reconciler.providers import codes
    from reconciler.providers.base import TaskState

    vendor = display_name(desired.provider)
    try:
        status = await provider.status(task_id)
    except PermanentError as exc:
        if exc.code is not None and codes.kind_of(desired.provider, exc.code) == codes.NOT_FOUND:
            raise ReconcilerError(
                f"state import: {vendor} does not know task {task_id} ({exc}). Nothing was changed. Check the "
                f"task id in the {vendor} console, and that it was created with the account of this "
                f"project's credentials.") from None
        raise ReconcilerError(f"state import: could not ask {vendor} about task {task_id}: {exc}. "
                              "Nothing was changed.") from None
    except ProviderError as exc:
        raise ReconcilerError(f"state import: could not ask {vendor} about task {task_id}: {exc}. Nothing was "
                              "changed; try again.") from None
    if status.state in (TaskState.FAILED, TaskState.CANCELLED):
        why = status.error or status.raw_state or status.state.value
        raise ReconcilerError(
            f"state import: {vendor} task {task_id} is {status.state.value} ({why}): there is no render to "
            f"adopt. Nothing was changed. To render {desired.address}: `reconciler plan`, or "
            f"`reconciler apply --replace {desired.address}`.")
    return status


def _said_imported(out, desired: DesiredVideo, task_id: str, before: RecordedVideo | None, state: str) -> None:
    vendor = display_name(desired.provider)
    was = "not in the state" if before is None else f"was {before.status.value}"
    if before is not None and before.status is Status.UNKNOWN:
        was = "was unknown (a create sent whose answer never arrived): settled without a new create"
    out.print(f"Imported {vendor} task {task_id} ({state} at {vendor}) as {desired.address}, which {was}.")
    out.print(f"Recorded with the fingerprint of its spec in {desired.spec_file} ({desired.fingerprint[:12]}): "
              f"you vouch that task {task_id} renders that spec. No create was sent.")


def _said_after(out, engine: Engine, store, desired: DesiredVideo, task_id: str, finished: bool) -> int:
    address = desired.address
    if engine.halted:
        out.print(f"Stopped: {engine.halted}")
        return 1
    if not finished:
        out.print(f"It is still rendering: the next `reconciler apply`, `refresh` or `watch` downloads it "
                  f"when it finishes.")
        return 0
    video = store.get(address)
    if video is not None and video.has_output and video.output_task_id == task_id:
        out.print(f"Downloaded: {video.output_file} ({video.output_bytes} bytes).")
        return 0
    out.print(f"The import is recorded, but the output of task {task_id} is not downloaded (see above): "
              f"`reconciler refresh` tries again; no new render is needed.")
    return 1
