"""What the watch tests share: a temp project driven by editing its files, and a
`reconciler watch --log-format json` process whose log lines are parsed as they come.

Every wait polls something observable against a deadline; no fixed sleeps beyond
short poll intervals.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from tests.helpers import XINGYUN_HEADER, wait_until  # noqa: F401 - wait_until: the watch tests import it from here


class Watch:
    """One `reconciler watch --log-format json` process; its log lines parsed as they come."""

    def __init__(self, root: Path, env: dict, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(root), "watch",
                                      "--log-format", "json", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.records: list[dict] = []
        self.raw: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.raw.append(line)
            try:
                self.records.append(json.loads(line))
            except ValueError:
                self.records.append({"event": "unparsed", "message": line})

    def events(self, event: str, address: str | None = None) -> list[dict]:
        return [r for r in list(self.records) if r.get("event") == event
                and (address is None or r.get("address") == address)]

    def wait_event(self, event: str, address: str | None = None, timeout: float = 20.0, count: int = 1) -> dict:
        found = wait_until(lambda: len(self.events(event, address)) >= count and self.events(event, address),
                           timeout, f"{count}x {event} {address or ''}\n{''.join(self.raw[-30:])}")
        return found[count - 1]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return code


class Project:
    def __init__(self, root: Path, sim):
        self.root, self.sim = root, sim
        (root / "specs").mkdir(parents=True)
        self.env = {**os.environ, "XINGYUN_ENDPOINT": sim.url, "UNISOUND_ENDPOINT": sim.url,
                    "XINGYUN_APP_ID": "sim-app", "XINGYUN_APP_SECRET": "sim-secret",
                    "UNISOUND_APPKEY": "sim-app", "UNISOUND_SECRET": "sim-secret"}
        self.env.pop("RECONCILER_SIM_RENDER_SECONDS", None)
        self.watches: list[Watch] = []

    def write(self, rel: str, videos: dict[str, str], provider: str = "xingyun") -> Path:
        """A spec file of ``videos`` (address -> script); written whole, as an editor saves."""
        if provider == "xingyun":
            head = XINGYUN_HEADER
            body = "".join(f"  {a}:\n    segment:\n      - text: {t}\n" for a, t in videos.items())
        else:
            head = ("defaults:\n  provider: unisound\n  speech_param: {vcn: xuanxuan-plus}\n"
                    "  video_param: {template: yadi_01, background: 1}\nvideos:\n")
            body = "".join(f"  {a}:\n    text: {t}\n" for a, t in videos.items())
        path = self.root / "specs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(head + body, encoding="utf-8")
        os.replace(tmp, path)
        return path

    def watch(self, *args: str) -> Watch:
        w = Watch(self.root, self.env, *args)
        self.watches.append(w)
        return w

    def manifest(self) -> dict:
        try:
            return json.loads((self.root / "state" / "manifest.json").read_text())["videos"]
        except (FileNotFoundError, ValueError):
            return {}

    def finished(self, *addresses: str) -> bool:
        m = self.manifest()
        return all(m.get(a, {}).get("status") == "finished" and m[a]["file"] for a in addresses)

    def calls(self, kind: str) -> list[dict]:
        return [e for e in self.sim.ledger() if e["kind"] == kind and e["ok"]]


def assert_no_duplicate_renders(project: Project) -> None:
    creates = Counter(e["fingerprint"] for e in project.calls("create"))
    assert [fp for fp, n in creates.items() if n > 1] == []
