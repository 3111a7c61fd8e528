"""The review page: cards laid out as one self-contained HTML file, plus its posters.

Why this shape: reviewers open the page from a CI artifact, a shared folder or their
phone, often offline, so everything the page needs is in ``index.html`` (CSS and a
few lines of plain JS, inlined; no CDN, no server) or beside it (``posters/``). Videos
are not copied: the players point at the outputs by a path relative to the page
(``../outputs/...`` for the default ``site/``), so the page costs no disk and always
plays the files the manifest names. A page moved away from its project keeps its
scripts, statuses and history, but not its players.

Jinja's autoescape escapes every value; scripts are made safe HTML by ``script``. A
Content-Security-Policy with a per-page nonce lets only the page's own script run,
should anything ever slip through.
"""

from __future__ import annotations

import secrets
from collections import Counter
from pathlib import Path

import jinja2

from reconciler import model
from reconciler.gallery import cards as cards_mod
from reconciler.gallery import costs
from reconciler.util import atomic

INDEX = "index.html"
# Up to this many local players load their metadata (duration, first frame) with the page;
# above it they load on play, so a page of thousands of videos opens at once (posters
# still show what each one looks like).
EAGER_PLAYERS = 100


def render(cards: list[cards_mod.Card], *, title: str, generated: str, state_name: str, outputs_name: str,
           poster_note: str = "", spent: costs.Spent | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    counts = Counter(c.status for c in cards)
    providers = sorted({c.provider for c in cards})
    return env.get_template("page.html.j2").render(
        cards=cards, title=title, generated=generated, state_name=state_name, outputs_name=outputs_name,
        poster_note=poster_note, spent=spent, nonce=secrets.token_urlsafe(16), statuses=cards_mod.ORDER,
        eager=sum(c.src_kind == "local" for c in cards) <= EAGER_PLAYERS,
        counts=[(s, counts[s]) for s in cards_mod.ORDER if counts[s]],
        labels=sorted({label for c in cards for label in c.labels}),
        providers=[(p, model.display_name(p)) for p in providers],
    )


def write(out_dir: Path, html: str) -> Path:
    path = out_dir / INDEX
    atomic.atomic_write_text(path, html)
    return path
