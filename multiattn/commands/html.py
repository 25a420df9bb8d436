"""``multiattn html GRID.npz --out view.html``: an interactive, self-contained HTML view.

The view follows the grid's axes (text head/model view, image patches, graph
nodes); see :mod:`multiattn.renderers.html`.  The gallery writes one view per
modality on the embedded models plus a headless-chromium screenshot of each.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import GalleryItem

__all__ = ["register", "run", "gallery", "chromium", "run_chromium", "GALLERY_ORDER"]

GALLERY_ORDER = 90

_CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("html", help="write an interactive offline HTML view of a saved grid (.npz)")
    p.add_argument("grid", help="grid file written by AttentionGrid.save (.npz)")
    p.add_argument("--out", required=True, help="output .html file")
    p.add_argument("--title", default=None, help="title shown in the view")
    p.add_argument("--image", default=None, help="image the patches cover (image grids only)")
    p.add_argument("--top-k", type=int, default=None, help="keep only the k largest weights per row")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..grid import AttentionGrid
    from ..renderers.html import save

    path = Path(args.grid)
    if not path.is_file():
        raise FileNotFoundError(f"grid file {path} does not exist (write one with grid.save(path))")
    grid = AttentionGrid.load(path)
    options = {"title": args.title}
    if args.top_k is not None:
        options["top_k"] = args.top_k
    if args.image is not None:
        from PIL import Image

        if not Path(args.image).is_file():
            raise FileNotFoundError(f"image {args.image} does not exist")
        options["image"] = np.asarray(Image.open(args.image).convert("RGB"))
    print(save(grid, args.out, **options))
    return 0


def chromium() -> str:
    """Path of the system chromium (Debian ``chromium`` package); clear error when missing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("chromium not found; install it with `apt-get install -y chromium`")


def run_chromium(page: Path, *, dump_dom: bool = False, screenshot: Path | None = None,
                 probe: str | None = None, size: tuple[int, int] = (1200, 900)) -> str:
    """Open ``page`` in headless chromium; return the DOM after load (``dump_dom``) or save a screenshot.

    ``probe`` is JavaScript appended to a temporary copy of the page (e.g. to hover a
    token before the picture is taken); the original file is not changed.
    """
    page = Path(page)
    with tempfile.TemporaryDirectory() as tmp:
        target = page
        if probe is not None:
            target = Path(tmp) / page.name
            text = page.read_text(encoding="utf-8")
            target.write_text(text.replace("</body>", f"<script>{probe}</script></body>"), encoding="utf-8")
        cmd = [chromium(), *_CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile",
               f"--window-size={size[0]},{size[1]}"]
        if dump_dom:
            cmd.append("--dump-dom")
        if screenshot is not None:
            cmd.append(f"--screenshot={Path(screenshot).resolve()}")
        cmd.append(target.resolve().as_uri())
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-500:]}")
    return done.stdout


def _hover(selector: str) -> str:
    return (f"var t=document.querySelector({selector!r});"
            "t.dispatchEvent(new MouseEvent('mouseenter'));t.dispatchEvent(new MouseEvent('mousemove',"
            "{clientX:t.getBoundingClientRect().left+5,clientY:t.getBoundingClientRect().top+5}));")


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Text (MiniLM), image (shapes-vit) and graph (karate GAT) views, each with a screenshot."""
    from ..adapters.graph import capture as graph_capture
    from ..adapters.text import capture as text_capture
    from ..adapters.vit import capture as vit_capture
    from ..analysis.rollout import rollout
    from ..grid import AttentionMap
    from ..renderers.html import save
    from ..zoo.graph import karate_gat, to_data
    from ..zoo.text import load_minilm
    from ..zoo.vision import load_shapes_vit, make_shapes_image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    section, items = "Interactive HTML views", []

    model, tokenizer = load_minilm()
    text = "The quick brown fox jumps over the lazy dog because it was bored."
    page = save(text_capture(model, tokenizer, text), out_dir / "minilm_text.html",
                title="MiniLM (all-MiniLM-L6-v2): " + text)
    shot = out_dir / "minilm_text.png"
    run_chromium(page, screenshot=shot, probe=_hover(".ma-left .ma-tok[data-index='4']"))
    model_shot = out_dir / "minilm_model_view.png"
    run_chromium(page, screenshot=model_shot, size=(1200, 760),
                 probe="document.getElementById('tab-model').click();")
    items += [GalleryItem(section, "MiniLM head view (HTML, open in a browser)", page,
                          "Hover a token to focus it, choose layer and heads; the Model view tab shows "
                          "all 6 x 12 heads."),
              GalleryItem(section, "Screenshot: head view with the token 'fox' focused", shot, ""),
              GalleryItem(section, "Screenshot: model view (click a thumbnail to open it)", model_shot, "")]

    vit, processor = load_shapes_vit()
    image = make_shapes_image(np.random.default_rng(7))[0]
    image = np.kron(image, np.ones((6, 6, 1), dtype=np.uint8))  # show the 64 px sample larger
    grid = vit_capture(vit, image, processor)
    page = save(grid, out_dir / "shapes_vit_image.html", image=image,
                maps={"CLS rollout (all layers)": AttentionMap(rollout(grid)[0], grid.key)},
                title="shapes-vit on a synthetic shapes image")
    shot = out_dir / "shapes_vit_image.png"
    run_chromium(page, screenshot=shot, size=(900, 660))
    rollout_shot = out_dir / "shapes_vit_rollout.png"
    run_chromium(page, screenshot=rollout_shot, size=(900, 660),
                 probe="var s=document.querySelector('select');s.value='2';"
                       "s.dispatchEvent(new Event('change'));")
    items += [GalleryItem(section, "shapes-vit image view (HTML)", page,
                          "Move over the image: the attention of that patch; map selector: CLS, a "
                          "hovered patch, or the attention rollout."),
              GalleryItem(section, "Screenshot: CLS attention of the last layer (mean of heads)", shot, ""),
              GalleryItem(section, "Screenshot: CLS rollout map selected", rollout_shot, "")]

    karate = karate_gat()
    page = save(graph_capture(karate.model, to_data(karate)), out_dir / "karate_graph.html",
                title="Karate club, 2-layer GATv2")
    shot = out_dir / "karate_graph.png"
    run_chromium(page, screenshot=shot, size=(1000, 760), probe=_hover("circle[data-index='0']"))
    items += [GalleryItem(section, "Karate club graph view (HTML)", page,
                          "Hover or Tab to a node: its incoming attention edges and their weights."),
              GalleryItem(section, "Screenshot: node 0 (Mr. Hi) focused", shot, "")]
    return items
