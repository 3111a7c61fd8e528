"""`reconciler gallery` in a real browser: a project rendered on the simulator (real
MP4s), the page written by the console script, loaded from ``file://`` in headless
Chromium (selenium). The players' metadata load, the posters show, the filters work,
a script holding ``<script>`` shows as text and runs nothing, and the page fits a phone.

Screenshots are kept in ``tests/artifacts/`` (ignored by git; the path is printed).
Without Chromium and its driver the test is skipped with how to get them
(``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import UNISOUND_HEADER, XINGYUN_HEADER

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOW_TO_GET = ("the gallery's browser test needs Chromium, its driver and selenium: "
              "`apt-get install chromium chromium-driver` (Debian/Ubuntu; .ci/run does it) "
              "and `pip install -e '.[dev]'`")

XINGYUN = XINGYUN_HEADER + """\
  xy/intro:
    labels: {owner: marketing}
    segment:
      - text: 为推动我国制造业数字化转型
        media_url: https://media.example.com/a.png
      - text: '<img src=x onerror="window.__pwned=2">同期将举行多场论坛。'
  xy/agenda:
    segment:
      - text: 上午九点 主论坛开幕
"""
UNISOUND = UNISOUND_HEADER + """\
  uni/q1:
    text: 这是第<value>110</value>会议室
  uni/q2:
    text: 请您再说一遍<mute>300</mute>或说取消
  uni/xss:
    labels: {owner: support}
    text: "<script>window.__pwned=1;document.title='pwned'</script>气压单位是<sub alias=\\"毫米汞柱\\">mmHg</sub>"
"""
MORE_XINGYUN = """\
  xy/answer-lost:
    segment:
      - text: 这一条的回答丢了
"""
MORE_UNISOUND = """\
  uni/refused:
    text: 额度用完了
"""


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(HOW_TO_GET)
    if not chromium or not driver:
        pytest.skip(HOW_TO_GET)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--window-size=1280,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


@pytest.fixture
def browser():
    driver = _browser()
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def _visible(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.card')).filter(c => !c.hidden)"
        ".map(c => c.querySelector('.addr').textContent)")


# Resolves once every local player has its metadata (or an error): awaited, not slept.
METADATA = """
const done = arguments[arguments.length - 1];
const videos = Array.from(document.querySelectorAll('video[preload=metadata]'));
Promise.all(videos.map(v => new Promise(ok => {
  if (v.readyState >= 1) return ok();
  v.addEventListener('loadedmetadata', ok, {once: true});
  v.addEventListener('error', ok, {once: true});
}))).then(() => done(videos.map(v => ({
  card: v.closest('.card').querySelector('.addr').textContent, readyState: v.readyState,
  duration: v.duration, error: v.error && v.error.code}))));
"""
POSTERS = """
const done = arguments[arguments.length - 1];
const urls = Array.from(document.querySelectorAll('video[poster]')).map(v => v.poster);
Promise.all(urls.map(u => new Promise(ok => {
  const img = new Image(); img.onload = () => ok(img.naturalWidth); img.onerror = () => ok(0); img.src = u;
}))).then(done);
"""


def test_gallery_page_in_headless_chromium(browser, project, sim):  # browser first: skip before the sim starts
    specs = project.root / "specs"
    specs.mkdir()
    (specs / "xingyun.yaml").write_text(XINGYUN)
    (specs / "unisound.yaml").write_text(UNISOUND)
    first = project.apply()
    assert first.returncode == 0, first.stdout + first.stderr
    # now: one create refused (failed), one whose answer is lost (unknown), a Unisound file deleted
    # (lost: its link worked once), a Xingyun file deleted (not lost: the vendor's link plays it)
    (specs / "xingyun.yaml").write_text(XINGYUN + MORE_XINGYUN)
    (specs / "unisound.yaml").write_text(UNISOUND + MORE_UNISOUND)
    sim.faults({"unisound_quota": 0, "queue": {"xingyun.create": ["lost"]}})
    second = project.apply()
    assert second.returncode == 1, second.stdout + second.stderr
    (project.root / "outputs/xy/agenda.mp4").unlink()
    (project.root / "outputs/uni/q1.mp4").unlink()
    state_before = (project.root / "state/reconciler.db").read_bytes()
    calls_before = len(sim.ledger())
    with (project.root / "reconciler.yaml").open("a") as config:  # prices: the page shows money
        config.write("providers:\n  xingyun: {price: {per_render: 1.5, currency: CNY}}\n"
                     "  unisound: {price: {per_render: 0.5, per_1000_chars: 200, currency: CNY}}\n")

    result = project.run("gallery")
    assert result.returncode == 0, result.stderr
    assert "Wrote site/index.html: 7 videos, 3 need a look (1 failed, 1 unknown, 1 lost); 3 posters; spent so far " \
        in result.stdout
    total = result.stdout.split("spent so far ")[1].split(".\n")[0]
    assert len(sim.ledger()) == calls_before  # no network
    assert (project.root / "state/reconciler.db").read_bytes() == state_before
    index = project.root / "site/index.html"

    browser.get(index.as_uri())
    players = browser.execute_async_script(METADATA)
    assert sorted(p["card"] for p in players) == ["uni/q2", "uni/xss", "xy/intro"]
    for p in players:
        assert p["readyState"] >= 1 and p["duration"] > 0, p
    assert all(width > 0 for width in browser.execute_async_script(POSTERS))

    # money: the total spent at the top, and what each video's renders cost (refused or lost creates: nothing)
    spent = browser.find_element("id", "spent")
    assert spent.is_displayed() and spent.text.startswith(f"spent so far {total} · Xingyun: 3.00 CNY (2 renders, ")
    assert "Unisound: " in spent.text and "(3 renders, " in spent.text and total.endswith(" CNY")
    assert browser.find_element("css selector", "#v-xy\\/intro .cost").text == "1.50 CNY · 1 render paid"
    assert browser.find_element("css selector", "#v-uni\\/refused .cost").text == "0.00 CNY · 0 renders paid"

    # the ones needing a look come first
    order = browser.execute_script("return Array.from(document.querySelectorAll('.card')).map(c => c.dataset.status)")
    assert order[:3] == ["failed", "unknown", "lost"] and set(order[3:]) == {"finished"}

    # scripts: shown as text, tags readable, nothing injected ran
    assert browser.execute_script("return window.__pwned === undefined")
    assert "pwned" not in browser.title
    xss = browser.find_element("id", "v-uni/xss")
    assert "<script>window.__pwned=1;document.title='pwned'</script>" in xss.text
    assert "says 毫米汞柱" in xss.text and "mmHg" in xss.text
    assert '<img src=x onerror="window.__pwned=2">' in browser.find_element("id", "v-xy/intro").text
    assert browser.find_element("css selector", "#v-uni\\/q2 .tts-mute").text == "PAUSE300 ms"
    assert browser.find_element("css selector", "#v-uni\\/q1 .tts-value").get_attribute("textContent") == "number110"
    assert "--replace xy/answer-lost" in browser.find_element("id", "v-xy/answer-lost").text
    assert "quota" in browser.find_element("id", "v-uni/refused").text
    agenda = browser.find_element("id", "v-xy/agenda")
    assert "not downloaded here" in agenda.text and agenda.get_attribute("data-status") == "finished"

    # filters: status, label, provider, and the link that keeps them
    from selenium.webdriver.support.ui import Select

    status, label, provider = (Select(browser.find_element("id", f"f-{n}")) for n in ("status", "label", "provider"))
    status.select_by_value("failed")
    assert _visible(browser) == ["uni/refused"]
    status.select_by_value("attention")
    assert _visible(browser) == ["uni/refused", "xy/answer-lost", "uni/q1"]
    assert browser.find_element("id", "shown").text == "3 of 7 shown"
    status.select_by_value("")
    label.select_by_value("owner=support")
    assert _visible(browser) == ["uni/xss"]
    label.select_by_value("")
    provider.select_by_value("xingyun")
    assert _visible(browser) == ["xy/answer-lost", "xy/agenda", "xy/intro"]
    assert browser.current_url.endswith("#provider=xingyun")
    browser.get(index.as_uri() + "#provider=unisound&status=finished")
    assert _visible(browser) == ["uni/q2", "uni/xss"]
    browser.get(index.as_uri())
    browser.execute_async_script(METADATA)

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []  # nothing blocked by the page's own policy, no script error

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "gallery.png"))
    browser.set_window_size(390, 844)  # a phone
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.save_screenshot(str(ARTIFACTS / "gallery-phone.png"))
    print(f"screenshots: {ARTIFACTS / 'gallery.png'} {ARTIFACTS / 'gallery-phone.png'}")
