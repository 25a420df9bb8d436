"""Production section: a monitored MiniLM serves 300 requests, a new kind of client after 200, drift found."""

from __future__ import annotations

import random
from pathlib import Path

from . import GalleryItem

_SUBJECTS = ["the cat", "a young doctor", "my neighbour", "the old train", "our teacher", "a small bird",
             "the city council", "his sister", "the night nurse", "a tired pilot"]
_VERBS = ["watched", "painted", "repaired", "visited", "described", "found", "followed", "ignored"]
_OBJECTS = ["the river at dawn", "a broken window", "the new library", "an empty street",
            "the morning news", "a quiet garden", "the last letter", "a red bicycle"]
_ENDS = [".", " yesterday.", " again.", " with great care.", " before lunch.", "!"]


def _requests(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(_SUBJECTS).capitalize()} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
            f"{rng.choice(_ENDS)}" for _ in range(n)]


def _keywords(text: str, rng: random.Random) -> str:
    """What a search-box client sends: the words in any order, lower case, no punctuation."""
    words = text.lower().rstrip(".!").split()
    rng.shuffle(words)
    return " ".join(words)


def _serve(model, tok, texts: list[str]) -> None:
    """One request per forward, as a server would run them."""
    import torch

    with torch.no_grad():
        for text in texts:
            model(**tok(text, return_tensors="pt"))


def render(out_dir: Path) -> list[GalleryItem]:
    """Reference profile, a monitored run with an injected shift, the drift heatmap and distributions."""
    import multiattn
    from multiattn.drift import drift
    from multiattn.renderers.driftview import drift_distributions, drift_heatmap
    from multiattn.renderers.figure import save_figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, tok = multiattn.zoo.load("minilm")
    reference = multiattn.profile(model, _requests(120, seed=1), processor=tok, scheduler=None,
                                  progress=False)
    store_path = out_dir / "requests.duckdb"
    store_path.unlink(missing_ok=True)
    with multiattn.monitor(model, store_path, processor=tok, model_id="minilm") as mon:
        _serve(model, tok, _requests(200, seed=2))
        rng = random.Random(4)
        _serve(model, tok, [_keywords(t, rng) for t in _requests(100, seed=3)])
    store = mon.store
    prefix = mon.last.request_id.rsplit("-", 1)[0]
    healthy = drift(reference, store, where=f"request_id <= '{prefix}-{200:08d}'")
    report = drift(reference, store, where=f"request_id > '{prefix}-{200:08d}'")
    report.save(out_dir / "drift.json")
    heat = save_figure(drift_heatmap(report).figure, out_dir / "drift_heatmap.png")
    dist = save_figure(drift_distributions(report, top=3), out_dir / "drift_distributions.png")
    n_stored = store.count()
    verdict = report.verdicts[0] if report.verdicts else "no drift"
    return [
        GalleryItem("Production", "Monitor: drift after a new kind of client", heat,
                    f"{n_stored} monitored requests in a DuckDB store; requests 201-300 come from a new "
                    f"search-box client (the words shuffled, lower case, no punctuation). Against a "
                    f"reference profile of 120 requests, {len(report.heads())} of {report.ks[0].size} "
                    f"heads drift (dots; colour = largest KS distance over 9 statistics); the first 200 "
                    f"requests: "
                    f"{len(healthy.heads())} heads."),
        GalleryItem("Production", "Monitor: before/after distributions of the most drifted heads", dist,
                    f"Share of requests per bin, reference vs the last 100 requests. Top verdict: {verdict}"),
    ]
