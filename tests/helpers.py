"""Builders the test folders share: the spec-file headers a project's specs start with,
a tiny .pptx the simulator accepts as a deck, and the environment every engine run of
the tests gets (``FAST_FIRST_POLL``: set for the session by ``tests/conftest.py``, and
added back by each helper that strips ``RECONCILER_*`` from a child's environment).

``wait_until`` (and ``wait_until_async``) is the one wait for a condition that no event
announces: a process's log line, a file, a simulator's task state.

Per-folder helpers stay in their folder (``e2e/support.py``, ``sim/helpers.py``,
``watch/helpers.py``); shared fakes of the engine's parts are in ``fakes.py``.
"""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from pathlib import Path
from typing import Any, Awaitable, Callable

from reconciler.apply.schedule import FIRST_POLL_ENV

# The simulators here render in 0.2-0.6 s: a run polls first after 0.7 s, not the vendors' 2 s.
FAST_FIRST_POLL = {FIRST_POLL_ENV: "0.7"}
# The defaults of a Xingyun spec file, then ``videos:``: append ``  address:\n    segment: ...``.
XINGYUN_HEADER = """\
defaults:
  provider: xingyun
  look_name: AM054_Jap_9021_new
  tts_vcn_name: XMOV_HN_TTS__236
  studio_name: youling_2d_v
videos:
"""
# The same for Unisound: append ``  address:\n    text: ...``.
UNISOUND_HEADER = """\
defaults:
  provider: unisound
  speech_param: {vcn: xuanxuan-plus, speed: 55}
  video_param: {template: yadi_01, watermask: 0, background: 1}
videos:
"""


def tiny_pptx(text: str = "Hello deck", *, presentation: bool = True) -> bytes:
    """A one-slide deck whose slide says ``text`` (``SIM_FAIL`` in it makes the
    simulator's renders of it fail); without ``presentation`` it is no .pptx at all."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        if presentation:
            z.writestr("ppt/presentation.xml", '<?xml version="1.0"?><p:presentation/>')
        z.writestr("ppt/slides/slide1.xml", f'<?xml version="1.0"?><p:sld><a:t>{text}</a:t></p:sld>')
    return buf.getvalue()


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Files under ``root`` ({relative path: text or bytes}), folders made as needed."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return root


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str | Callable[[], str] = "condition",
               step: float = 0.05) -> Any:
    """``predicate()``'s first truthy value, asked every ``step`` seconds; AssertionError
    naming ``what`` after ``timeout`` (a guard against a hang, not a pace: asked once more
    at the deadline). ``what`` may be a function, called then (to show what was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        time.sleep(step)


async def wait_until_async(predicate: Callable[[], Awaitable[Any]], timeout: float = 30.0,
                           what: str | Callable[[], str] = "condition", step: float = 0.05) -> Any:
    """``wait_until`` for an awaited predicate (a provider's status call), sleeping with asyncio."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        await asyncio.sleep(step)
