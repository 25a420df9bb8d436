"""Writers: a modality's standard set of files for one input (what the CLI writes).

Each takes what the API computed (a grid, an adapter's result) and writes PNG / JSON / SRT /
HTML files into a folder, returning their paths; none runs a model.

- :func:`write_text_report` -- heatmap, model view, lines view and ``metrics.json`` of a text grid.
- :func:`write_audio_report` -- alignment strips, word links, ``words.json`` and ``words.srt``.
- :func:`write_video_report` -- overlay MP4 + GIF, contact sheet and frame timeline
  (:func:`explanation_label` names what a video map explains).
- :func:`write_depth_report` -- flow diagram, attention-vs-gradient table, head clusters, pruning.
- :func:`write_analysis` -- metrics, head types and diagnostics of any saved grid.
- :func:`write_report` -- one self-contained offline HTML report of a text input.
"""

from __future__ import annotations

from ._write_audio import write_audio_report
from ._write_depth import write_depth_report
from ._write_grid import write_analysis
from ._write_page import write_report
from ._write_text import write_text_report
from ._write_video import explanation_label, write_video_report

__all__ = ["explanation_label", "write_analysis", "write_audio_report", "write_depth_report", "write_report",
           "write_text_report", "write_video_report"]
