"""A video rendered by parts, put together as apply will (docs/parts.md): each part
verified, joined, the joined video verified, captions timed from the parts' measured
durations, a poster. The captions' last cue ends with the joined audio."""

from __future__ import annotations

import av

from reconciler.media.captions import cues, srt
from reconciler.media.join import join
from reconciler.media.poster import write_poster
from reconciler.media.script import split_sentences
from reconciler.media.verify import probe
from tests.media.clips import make_clip

SCRIPT = "第一句很短。第二句稍微长一点，有一个逗号。<mute>300</mute>第三句!Fourth, in English?"


def test_sentences_rendered_as_parts_joined_with_captions_that_end_with_the_audio(tmp_path):
    sentences = split_sentences(SCRIPT)
    assert len(sentences) == 4
    lengths = [0.96, 1.84, 0.72, 1.2]  # what each render happened to last
    parts = [make_clip(tmp_path / f"part{i}.mp4", d) for i, d in enumerate(lengths)]
    measured = [probe(p).duration_s for p in parts]

    joined = join(parts, tmp_path / "video.mp4")
    info = probe(tmp_path / "video.mp4")
    cue_list = cues(list(zip(sentences, measured)))
    write_poster(tmp_path / "video.mp4", tmp_path / "video.jpg")

    with av.open(str(tmp_path / "video.mp4")) as container:
        audio = container.streams.audio[0]
        audio_end = sum(f.samples for f in container.decode(audio)) / audio.codec_context.sample_rate
    assert abs(cue_list[-1].end_s - audio_end) <= 0.1
    assert abs(info.duration_s - sum(lengths)) <= 0.04
    for start in joined.starts_s:  # each sentence's first cue starts where its part starts in the video
        assert any(abs(c.start_s - start) < 0.001 for c in cue_list)
    assert srt(cue_list).startswith("1\n00:00:00,000 --> ")
    assert (tmp_path / "video.jpg").read_bytes()[:2] == b"\xff\xd8"
