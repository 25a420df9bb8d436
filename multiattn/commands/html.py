"""``multiattn html GRID.npz --out view.html``: an interactive, self-contained HTML view.

The view follows the grid's axes (text head/model view, image patches, graph
nodes, audio cross-attention, video); see :mod:`multiattn.renderers.html`.  The gallery writes one view per
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
    p.add_argument("--audio", default=None, help="recording the frames cover (audio grids only)")
    p.add_argument("--video", default=None,
                   help="clip the model saw, sampled to the grid's frames (video grids only)")
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
    if args.audio is not None:
        from ..adapters.whisper import load_audio

        if not Path(args.audio).is_file():
            raise FileNotFoundError(f"audio file {args.audio} does not exist")
        options["audio"] = load_audio(args.audio)
    if args.video is not None:
        from ..axes import VideoAxis
        from ..media import read_video

        if not Path(args.video).is_file():
            raise FileNotFoundError(f"video file {args.video} does not exist")
        if not isinstance(grid.query, VideoAxis):
            raise ValueError(f"--video needs a grid over a VideoAxis, this one is over "
                             f"{type(grid.query).__name__}")
        options["frames"] = read_video(args.video, num_frames=grid.query.frames).frames
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
                 probe: str | None = None, size: tuple[int, int] = (1200, 900),
                 virtual_time_ms: int | None = None) -> str:
    """Open ``page`` in headless chromium; return the DOM after load (``dump_dom``) or save a screenshot.

    ``probe`` is JavaScript appended to a temporary copy of the page (e.g. to hover a
    token before the picture is taken); the original file is not changed.
    ``virtual_time_ms`` lets timers (e.g. a playing video) run for that much virtual
    time before the DOM is dumped.
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
        if virtual_time_ms is not None:
            cmd.append(f"--virtual-time-budget={int(virtual_time_ms)}")
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
    """Text (MiniLM), image (shapes-vit), graph (karate GAT), audio (Whisper tiny.en) and video
    (moving-shapes VideoMAE) views, each with a screenshot."""
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
    return items + _media_gallery(out_dir, section)


def _best_alignment_head(grid, words: list[dict]) -> tuple[int, int, int]:
    """(layer, head, hits): the cross-attention head whose peak frame lies inside the word for most words.

    Needs one text token per word (true for the gallery sentence)."""
    tokens = [i for i, label in enumerate(grid.query.labels) if label.strip() and not label.startswith("<|")]
    if [grid.query.labels[i].strip() for i in tokens] != [w["word"] for w in words]:
        raise ValueError("the gallery sentence must give one Whisper token per word")
    peaks = grid.key.times[grid.values[:, :, tokens].argmax(axis=-1)]  # (L, H, words)
    starts, ends = (np.array([w[k] for w in words]) for k in ("start", "end"))
    hits = ((peaks >= starts) & (peaks <= ends)).sum(axis=-1)
    layer, head = np.unravel_index(hits.argmax(), hits.shape)
    return int(layer), int(head), int(hits[layer, head])


def _media_gallery(out_dir: Path, section: str) -> list[GalleryItem]:
    """Audio view (Whisper tiny.en cross-attention on a speech sample) and video view."""
    import json

    from .. import media_samples
    from ..adapters.video import capture as video_capture
    from ..adapters.whisper import capture as whisper_capture
    from ..adapters.whisper import load_audio
    from ..media import read_video
    from ..renderers.html import save
    from ..zoo.video import load_moving_shapes, moving_shapes_clip, sample_clip_path
    from ..zoo.whisper import whisper_tiny_en

    speech = Path(media_samples.__file__).parent / "speech"
    truth = json.loads((speech / "ground_truth.json").read_text(encoding="utf-8"))[0]
    waveform, sr = load_audio(speech / truth["file"])
    model, processor = whisper_tiny_en()
    grid = whisper_capture(model, processor, waveform, sr, text=truth["text"], progress=False)["cross"]
    audio_page = save(grid, out_dir / "whisper_audio.html", audio=(waveform, sr), words=truth["words"],
                title=f"Whisper tiny.en cross-attention: \"{truth['text']}\"")
    layer, head, hits = _best_alignment_head(grid, truth["words"])
    shot = out_dir / "whisper_audio.png"
    run_chromium(audio_page, screenshot=shot, size=(960, 620),
                 probe=f"var s=document.querySelectorAll('select');s[0].value='{layer}';"
                       f"s[1].value='{head + 1}';s[1].dispatchEvent(new Event('change'));"
                       + _hover(".ma-word[data-index='3']"))

    audio_grid = grid
    video = load_moving_shapes()
    clip = read_video(sample_clip_path(), num_frames=video.config.num_frames)
    grid = video_capture(video, clip.frames, fps=clip.fps)
    video_page = save(grid, out_dir / "moving_shapes_video.html", frames=clip.frames,
                title=f"Moving-shapes VideoMAE (predicted '{grid.meta['predicted_label']}')")
    shot_video = out_dir / "moving_shapes_video.png"
    frame = 5
    x0, y0, x1, y1 = moving_shapes_clip("up", frames=16, size=128, seed=7).boxes[clip.indices][frame]
    height, width = clip.frames.shape[1:3]
    run_chromium(video_page, screenshot=shot_video, size=(960, 620),
                 probe=f"var s=document.getElementById('ma-frame');s.value='{frame}';"
                       "s.dispatchEvent(new Event('input'));var c=document.getElementById('ma-video'),"
                       "b=c.getBoundingClientRect();c.dispatchEvent(new MouseEvent('mousemove',"
                       f"{{clientX:b.left+{(x0 + x1) / 2 / width}*b.width,"
                       f"clientY:b.top+{(y0 + y1) / 2 / height}*b.height}}));")
    return [GalleryItem(section, "Whisper audio view (HTML)", audio_page,
                        "Hover a token or a word: its cross-attention over time under the log-mel "
                        "spectrogram; click to hear that segment."),
            GalleryItem(section, "Screenshot: the word 'fox' focused", shot,
                        f"Layer {audio_grid.layers[layer]}, head {audio_grid.heads[head]}: the head "
                        f"whose peak falls inside the spoken word for {hits} of "
                        f"{len(truth['words'])} words."),
            GalleryItem(section, "Moving-shapes video view (HTML)", video_page,
                        "Frame slider and play button; move over a frame to choose the query patch."),
            GalleryItem(section, "Screenshot: frame 6, the moving square's patch as query", shot_video, "")]
