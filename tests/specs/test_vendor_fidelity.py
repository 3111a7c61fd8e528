"""Specs as the Unisound document has them (issue 10): ``background`` is required, the
document's lists of voices, templates and backgrounds only warn, and a ``<`` that opens
no known TTS tag is text. Through the real console script; the simulator checks that
what passes validation is what the vendor accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reconciler import sim

CLI = str(Path(sys.executable).with_name("reconciler"))
FAQ = """\
defaults:
  provider: unisound
  speech_param: {{vcn: {vcn}}}
  video_param: {{template: {template}, {background}backgroundImage: {image}}}
videos:
  faq/q1:
    text: '{text}'
"""


def project(tmp_path: Path, *, vcn="xuanxuan-plus", template="yadi_01", background="background: 1, ",
            image="bg.png", text="你好") -> Path:
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / "faq.yaml").write_text(
        FAQ.format(vcn=vcn, template=template, background=background, image=image, text=text), encoding="utf-8")
    return tmp_path


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINGYUN_", "UNISOUND_"))}
    return subprocess.run([CLI, "-C", str(root), *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_missing_background_is_a_spec_error_naming_file_and_line(tmp_path):
    root = project(tmp_path, background="")
    for command in (["validate"], ["plan"]):
        done = cli(root, *command)
        assert done.returncode == 1
        assert "specs/faq.yaml:6: videos.faq/q1.video_param.background: required field is missing" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (root / "state").exists()  # nothing changed


@pytest.mark.parametrize("field, value, where", [
    ("vcn", "xuanxuan-pluss", "videos.faq/q1.speech_param.vcn"),
    ("template", "yadi_02", "videos.faq/q1.video_param.template"),
    ("image", "beach.png", "videos.faq/q1.video_param.backgroundImage"),
])
def test_values_outside_the_documents_lists_are_warnings_not_errors(tmp_path, field, value, where):
    root = project(tmp_path, **{field: value})
    line = 3 if field == "vcn" else 4  # in `defaults`, where the value is written
    done = cli(root, "validate")
    assert done.returncode == 0 and done.stdout.strip() == "1 videos OK"
    assert f"warning: specs/faq.yaml:{line}: {where}: '{value}' is not a" in done.stderr
    plan = cli(root, "plan", "--json")
    assert plan.returncode == 0
    assert json.loads(plan.stdout)["summary"]["create"] == 1  # stdout is the JSON alone
    assert f"warning: specs/faq.yaml:{line}: {where}" in plan.stderr


def test_the_documents_own_values_do_not_warn(tmp_path):
    # color_lightgreen.png is used by the document's request example though its list lacks it
    root = project(tmp_path, vcn="chenyang-sarcastic-plus", template="yueyi_01", image="color_lightgreen.png")
    done = cli(root, "validate")
    assert done.returncode == 0 and "warning" not in done.stderr


@pytest.mark.parametrize("text", ["3<5 且 6>2", "a<b 而 c>d", "温度<30度</b>", "第<value>110</value>会议室,3<5"])
def test_a_less_than_that_opens_no_known_tag_is_text(tmp_path, text):
    root = project(tmp_path, text=text)
    done = cli(root, "validate")
    assert done.returncode == 0, done.stderr
    assert "1 videos OK" in done.stdout


def test_the_simulator_accepts_what_validates_and_refuses_a_missing_background(tmp_path):
    from reconciler.providers.signing import unisound_auth_values

    server = sim.start_in_thread(state_dir=tmp_path / "state", render_seconds=1)
    try:
        body = {"text": "3<5 且 6>2", "type": 2, "speech_param": {"vcn": "xuanxuan-pluss"},
                "video_param": {"template": "yadi_01", "background": 1}}
        with httpx.Client(base_url=server.url, timeout=5) as http:
            def start(doc):
                params = unisound_auth_values("sim-app", "sim-secret", int(__import__("time").time() * 1000))
                return http.post("/api/vms/ai-vms-nrt/start", json=doc, params=params).json()
            assert start(body)["error_code"] == 0  # an unlisted voice and a bare `<` are accepted
            assert start({**body, "video_param": {"template": "yadi_01"}})["error_code"] == 23901
    finally:
        server.stop()
