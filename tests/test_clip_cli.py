"""``multiattn clip`` command: files written, user errors reported with exit code 2."""

import numpy as np
from PIL import Image

from multiattn.cli import main
from multiattn.zoo._clip import make_scene


def test_clip_command_writes_figure_and_similarity(tmp_path, capsys):
    scene = make_scene(np.random.default_rng(3))
    image = tmp_path / "scene.png"
    Image.fromarray(scene.image).save(image)
    out = tmp_path / "out.png"
    (c1, s1), (c2, s2) = scene.objects
    assert main(["clip", str(image), scene.caption, f"a {c2} {s1} and a {c1} {s2}", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "out_similarity.png").is_file()
    with Image.open(out) as img:
        assert img.width > 600 and img.height > 300
    assert "wrote" in capsys.readouterr().out


def test_clip_command_user_errors(tmp_path, capsys):
    missing = str(tmp_path / "missing.png")
    assert main(["clip", missing, "a red circle", "--out", str(tmp_path / "x.png")]) == 2
    assert "image file not found" in capsys.readouterr().err
    image = tmp_path / "scene.png"
    Image.fromarray(make_scene(np.random.default_rng(0)).image).save(image)
    assert main(["clip", str(image), "a red circle", "--out", str(tmp_path / "x.txt")]) == 2
    assert "--out must end in .png" in capsys.readouterr().err
    assert main(["clip", str(image), "  ", "--out", str(tmp_path / "x.png")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["clip", str(image), "a red", "--model", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "model folder not found" in capsys.readouterr().err
