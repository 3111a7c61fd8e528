"""issue 10: Xingyun's ``get_render_task_preview_url`` answers the URL of a preview
*page*, not an image, so it is never stored as ``preview_image_url`` (the manifest's
poster); only the task's ``render_image_oss`` is."""

from __future__ import annotations

import asyncio

from reconciler.model import Action
from tests.fakes import Rig, change, plan, video


def test_the_preview_page_is_not_stored_as_the_preview_image(tmp_path):
    rig = Rig(tmp_path)
    fake = rig.providers["xingyun"]

    async def no_image(task_id, _status=fake.status):
        st = await _status(task_id)
        return type(st)(st.task_id, st.state, st.raw_state, st.error, st.video_url, None, st.finished_at)

    fake.status = no_image
    asyncio.run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a").preview_image_url is None  # not the page URL of get_render_task_preview_url
    assert not fake.kinds("preview_url")
