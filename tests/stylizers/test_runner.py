"""The stylize stage's options: made once, from keywords or by the command line."""

from __future__ import annotations

import pytest

from canvas_data.stylizers.runner import StylizeOptions, stylize_workspace


def test_keywords_split_into_the_runs_fields_and_the_stylizers_options():
    options = StylizeOptions.from_fields(
        {"backend": "diffusers", "workers": 2, "styles": ["Monet"], "model": "m", "steps": 4}
    )
    assert (options.backend, options.workers, options.styles) == ("diffusers", 2, ("Monet",))
    assert options.stylizer == {"model": "m", "steps": 4}
    assert options.objects is None and options.num_shards == 1


def test_options_and_keywords_together_are_refused(tmp_path):
    with pytest.raises(TypeError, match="workers given with options"):
        stylize_workspace(tmp_path, StylizeOptions(), workers=2)
