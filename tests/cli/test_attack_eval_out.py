"""``canvas-eval accuracy --out`` where a file stands in the way: the answer set is not scored
for nothing (the out path is refused first, or the scores are still shown)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

pytest.importorskip("diffusers")

from test_eval_cli import OBJECTS, SET, STYLE_CLASSES, constant_run, hand_made_answers  # noqa: E402

from canvas_data.classify.classifier import Classifier  # noqa: E402
from canvas_data.cli.eval import main  # noqa: E402


def counting(method, calls):
    """``method`` as it is, noting each call in ``calls``."""

    def counted(self, *args, **kwargs):
        calls.append(method.__name__)
        return method(self, *args, **kwargs)

    return counted


def test_a_blocked_out_path_does_not_throw_the_scores_away(tmp_path, monkeypatch):
    answers = hand_made_answers(tmp_path / "answers")
    style = constant_run(tmp_path / "style", "style", STYLE_CLASSES, "Van_Gogh")
    objects = constant_run(tmp_path / "object", "object", OBJECTS, "Cats")
    (tmp_path / "afile").write_text("in the way")
    calls = []
    for name in ("predict", "predict_resized"):
        monkeypatch.setattr(Classifier, name, counting(getattr(Classifier, name), calls))
    args = ["accuracy", "--answers", str(answers), "--style-classifier", str(style),
            "--object-classifier", str(objects), "--target", "Monet", "--device", "cpu",
            "--no-progress", "--allow-missing", *SET,
            "--out", str(tmp_path / "afile" / "x" / "Monet.json")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'afile'}: is a file, not a folder" in result.output
    assert not calls or "UA " in result.output, result.output
