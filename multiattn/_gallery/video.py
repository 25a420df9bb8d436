"""Video section: the tiny moving-shapes VideoMAE on the committed sample clip."""

from __future__ import annotations

from pathlib import Path

from . import GalleryItem

_SECTION = "video"


def render(out_dir: Path) -> list[GalleryItem]:
    """GIF, contact sheet, timeline of three methods and the frame x frame map."""
    import multiattn
    from multiattn.analysis import readout_attention, space_time_rollout
    from multiattn.media import read_video
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.frames import frame_timeline, temporal_heatmap
    from multiattn.renderers.writers import explanation_label, write_video_report
    from multiattn.zoo._video import moving_shapes_clip, sample_clip_path

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, _ = multiattn.load_model("moving-shapes")
    clip = read_video(sample_clip_path(), num_frames=model.config.num_frames)
    truth = moving_shapes_clip("up", frames=16, size=128, seed=7)  # the generator of the sample clip
    grid = multiattn.capture(model, clip.frames, fps=clip.fps)
    raw = readout_attention(grid)
    raw.meta.update(predicted=grid.meta["predicted"])
    paths = write_video_report(clip.frames, raw, out_dir / "moving_shapes.mp4", alpha=0.55,
                               label=explanation_label(raw, model.config.id2label),
                               boxes=truth.boxes[clip.indices])
    maps = {"raw attention": raw, "rollout": space_time_rollout(grid),
            "relevance": multiattn.explain(model, clip.frames, method="relevance", fps=clip.fps)}
    timeline = save_figure(frame_timeline(maps).figure, out_dir / "timeline_methods.png")
    heat = save_figure(temporal_heatmap(grid).figure, out_dir / "frame_by_frame.png")
    caption = (f"Tiny VideoMAE (8 frames, tubelets 2x8x8) trained on moving shapes; predicted "
               f"'{grid.meta['predicted_label']}' (true: up). Readout-token attention, each frame's map "
               "scaled to max 1; cyan boxes are the true object positions.")
    return [
        GalleryItem(_SECTION, "Attention clip (GIF)", paths["gif"], caption),
        GalleryItem(_SECTION, "Contact sheet", paths["sheet"], caption),
        GalleryItem(_SECTION, "Attention each frame receives", timeline,
                    "Share of each map on each 2-frame tubelet. The embedded model has one layer, so "
                    "rollout equals raw attention (dashed line on the solid one)."),
        GalleryItem(_SECTION, "Frame x frame attention", heat,
                    "Query time vs key time, mean over heads and over all query patches (rows sum "
                    "to 1); averaged over all tokens the model spreads attention evenly over time."),
    ]
