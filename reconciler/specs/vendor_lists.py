"""Warnings about specs: values outside the lists of the vendor documents.

Why warnings and not errors: the Unisound document lists its voices (``vcn``), avatar
templates and background images, but those lists grow (and its own request example uses
``color_lightgreen.png``, which its list lacks). A value outside them is probably a typo,
worth a line on stderr before a render is paid for, but it must not stop a team whose
account has a newer voice. Warnings never change what is planned or sent.

The loader calls ``unlisted`` on each video it parses and keeps the result with the
file's videos (in the spec cache too), so ``check(config, load)`` works on a warm cache
without decoding a single request; it looks the field's line up in the file only when
there is something to say.
"""

from __future__ import annotations

from reconciler.errors import Diagnostic
from reconciler.util import yamlio

# 云知声 document (seeds/003_2862a68a7ffad392.txt), 七、发音人列表 (lines 352-411).
# "johnny-plus" stands in the name column of line 411; it is kept as a known voice.
UNISOUND_VOICES = frozenset("""
chengcheng-neutral-plus chengcheng-happy-plus chengcheng-angry-plus chengcheng-disgust-plus
chengcheng-fear-plus chengcheng-sad-plus chengcheng-amazed-plus
shasha-neutral-plus shasha-happy-plus shasha-angry-plus shasha-disgust-plus shasha-fear-plus
shasha-sad-plus shasha-surprise-plus
xiaodi-plus xiaodi-warm-plus kiyo-plus suren-plus xuanxuan-plus xuanxuan-dignified-plus
xiaoqin-plus jenny-plus xiaowen-plus xiaowen-solemn-plus tangtang-plus zhenni-plus
lingling-plus xiaoke-plus bingbing-duihua-plus bingbing-kefu-plus bingbing-neg-plus
bingbing-pos-plus beier-plus
huihui-normal-plus huihui-neutral-plus huihui-angry-plus huihui-fear-plus huihui-happy-plus
huihui-sad-plus huihui-surprise-plus huihui-sarcastic-plus huihui-suspicious-plus
chenyang-normal-plus chenyang-neutral-plus chenyang-angry-plus chenyang-fear-plus
chenyang-happy-plus chenyang-sad-plus chenyang-surprise-plus chenyang-sarcastic-plus
chenyang-suspicious-plus
xiaoying-plus yalin-plus tiantian-plus xiaofeng-plus xiaoliang-plus mingyu-plus tiffany-plus
johnny-plus
""".split())

# 八、数字人形象列表 (lines 415-427).
UNISOUND_TEMPLATES = frozenset("""
boxuan_01 bohao_01 shihan_01 shiqing_01 xinyi_01 xinyao_01 xiaoying_01 xiaolin_01
yitong_01 yina_01 yadi_01 yueyi_01
""".split())

# 九、背景图像列表 (lines 431-441), plus color_lightgreen.png of the request example (line 214).
UNISOUND_BACKGROUNDS = frozenset("""
bg.png lightgreen.png color.png image_1.png color_darkgreen.png color_blue.png color_green.png
color_orange.png image_12.png image_7.png color_lightgreen.png
""".split())

# (field path in the request, the known values, what the list is called)
UNISOUND_LISTS = (
    (("speech_param", "vcn"), UNISOUND_VOICES, "voice"),
    (("video_param", "template"), UNISOUND_TEMPLATES, "avatar template"),
    (("video_param", "backgroundImage"), UNISOUND_BACKGROUNDS, "background image"),
)


def unlisted(provider: str, request: dict) -> list[tuple[tuple, str]]:
    """(field path, message) for each value of ``request`` outside the document's lists."""
    if provider != "unisound":
        return []
    out = []
    for path, known, what in UNISOUND_LISTS:
        value = request.get(path[0], {}).get(path[1])
        if value is not None and value not in known:
            out.append((path, f"{value!r} is not a {what} of the Unisound document's list; "
                              "check the spelling (a newer one your account has is fine)"))
    return out


def check(config, load) -> list[Diagnostic]:
    """Every warning of the loaded specs (``load``: a ``specs.SpecLoad``), sorted."""
    out = []
    for rel in load.unlisted_by_file:
        out += check_file(config, load, rel)
    return sorted(out)


def check_file(config, load, rel: str) -> list[Diagnostic]:
    """The warnings of one loaded spec file (the daemon asks per changed file)."""
    found = load.unlisted_by_file.get(rel)
    if not found:
        return []
    out = []
    lines = _Lines(config.root / rel)
    line_of = {v.address: v.line for v in load.videos_by_file.get(rel, ())}
    for address, path, message in found:
        line = lines.of(address, path) or line_of.get(address, 0)
        out.append(Diagnostic(rel, line, f"videos.{address}." + ".".join(path), message))
    return sorted(out)


class _Lines:
    """The line of a field of a video in one spec file (or of its ``defaults``), parsed
    only when first asked; 0 when it cannot be told (a template, an unreadable file)."""

    def __init__(self, path):
        self.path = path
        self._root = None
        self._parsed = False

    def of(self, address: str, path: tuple) -> int:
        if not self._parsed:
            self._parsed = True
            if not self.path.name.endswith(".j2"):
                try:
                    self._root = yamlio.load(self.path.read_text(encoding="utf-8-sig"))[1]
                except (OSError, UnicodeDecodeError, yamlio.YamlError):
                    self._root = None
        if self._root is None:
            return 0
        for where in (("videos", address) + path, ("defaults",) + path):
            line, found = yamlio.locate(self._root, where)
            if found:
                return line
        return 0
