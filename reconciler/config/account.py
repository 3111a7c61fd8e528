"""Which vendor account this checkout runs as (docs/team.md), as recorded with every render.

Why a module of its own: a team shares one state (docs/team.md) but not always one account.
A teammate with other credentials, or another checkout's simulator, does not know the
first one's tasks: its vendor answers "task not found", which must never be taken as
a fact about a render of another account (it once marked four finished videos
failed). So every render records the account it was created with, and every command
compares it with its own before it polls, cancels, downloads, marks failed or renders
again (``model.owner_elsewhere``).

The account is ``<public id>@<where>``, never a secret:

- the public id is the one of ``Credentials``: Xingyun's app id, Unisound's appKey;
- ``where`` tells apart accounts with the same id that are not the same task store:
  for ``endpoint: sim`` the built-in simulator of this checkout, ``sim:<id>``, where
  the id is a random one kept beside the simulator's tasks (``<state folder>/sim-account``,
  made on first use), so two checkouts on one PostgreSQL state each have their own
  simulator (and its tasks), while two runs of one checkout, or checkouts sharing one
  SQLite state folder, share it; for any other endpoint its host and port (no user, no
  path, no query: nothing secret), e.g. ``127.0.0.1:8765`` for a ``reconciler sim``
  process, ``nebula-agent.xingyun3d.com`` for the vendor.

Choice: an endpoint's host is part of the account, so the same app id behind another
host (a proxy) counts as another account: refusing to follow a render is said and
costs nothing, while following it through the wrong store marked renders failed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit

from reconciler.errors import ConfigError
from reconciler.model import VENDORS
from reconciler.util import atomic

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.config import Config

SIM_ID_FILE = "sim-account"


def account(config: Config, provider: str, env: Mapping[str, str] | None = None) -> str:
    """The account ``provider`` is called as by this checkout: ``<public id>@<where>``.
    Raises ConfigError where its credentials are missing."""
    creds = config.credentials(provider, env)
    if creds.endpoint == "sim":
        return f"{creds.app_id}@sim:{_sim_id(config)}"
    parts = urlsplit(creds.endpoint)
    host = parts.hostname or creds.endpoint
    return f"{creds.app_id}@{host}:{parts.port}" if parts.port else f"{creds.app_id}@{host}"


def accounts(config: Config, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``account`` of every vendor whose credentials are set (a vendor without them is
    left out: nothing of it can be called anyway, and the command says so)."""
    known = {}
    for name in VENDORS:
        try:
            known[name] = account(config, name, env)
        except ConfigError:
            continue
    return known


def _sim_id(config: Config) -> str:
    """The id of this checkout's simulator, made once (published whole, the first of two
    racing processes wins) beside its tasks."""
    path = config.state_dir / SIM_ID_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the simulator's id ({exc.strerror or exc})") from None
    tmp = path.with_name(f".{SIM_ID_FILE}.{os.getpid()}.new")
    try:
        atomic.atomic_write_bytes(tmp, os.urandom(6).hex().encode() + b"\n")
        try:
            os.link(tmp, path)  # never replaces one another process made meanwhile
        except FileExistsError:
            pass
        return path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the simulator's id ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
