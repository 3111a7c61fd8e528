"""A simulator of both vendors' APIs (Xingyun and Unisound) on one loopback port.

A stand-in for the real services: it imports nothing from the rest of ``reconciler``
and speaks the exact wire format of the vendor documents plus docs/vendors.md (paths,
signatures, timestamps, error codes, task states that move with wall-clock time, PPT
parsing, cancel, preview, a real playable MP4 per finished task, Unisound's one-shot
download). Tasks live in SQLite under ``state_dir`` so they outlive the process. Tests
can inject faults and read a ledger of every call (see faults.py and admin.py).

Module map: server (start/stop) -> httpd (HTTP) -> dispatch (latency, faults, ledger)
-> routes -> xingyun / unisound / files / admin, over app (context), store (SQLite),
lifecycle (states), auth (signatures), media (MP4/PNG), pptx, multipart, settings.
"""

from reconciler.sim.server import SimServer, serve_forever, start_in_thread
from reconciler.sim.store import read_ledger

__all__ = ["SimServer", "read_ledger", "serve_forever", "start_in_thread"]
