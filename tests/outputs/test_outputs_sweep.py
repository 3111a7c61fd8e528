"""What a killed process leaves in the outputs folder is tidied under the lock."""

from __future__ import annotations

from reconciler.config import load_config
from reconciler.outputs import rules as outputs


def test_sweep_removes_temporaries_and_quarantines_rejected_bytes(tmp_path):
    config = load_config(tmp_path)
    folder = tmp_path / "outputs/uni"
    folder.mkdir(parents=True)
    published = folder / "v0.mp4"
    published.write_bytes(b"a published video")
    part = folder / ".v0.mp4.k3j2.part"          # a download cut by the kill
    link = folder / ".v0.mp4.4242.link"          # a link from the render cache not yet renamed
    rejected = folder / ".v0.mp4.37abeb.rejected"  # a one-shot body that was not a video
    for path in (part, link, rejected):
        path.write_bytes(b"<html>")

    tidied = outputs.sweep_partials(config)

    assert sorted(tidied) == sorted([part, link, rejected])
    assert sorted(p.name for p in folder.iterdir()) == ["v0.mp4"]  # the published output is untouched
    kept = tmp_path / "state/quarantine/uni__v0.task-unknown.37abeb.bin"
    assert kept.read_bytes() == b"<html>"  # kept for a person to inspect, out of outputs/
