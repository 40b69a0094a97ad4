"""Names read from a folder are matched whole: a final newline is no part of a valid name."""

from __future__ import annotations

import pytest

from canvas_data.workspace import photo_indices


@pytest.mark.parametrize("name", ["3.jpg\n", "3.jpg\n\n", "03.jpg", "3.jpgx", "3.JPG.bak"])
def test_only_whole_idx_names_are_photos(tmp_path, name):
    (tmp_path / "1.jpg").write_bytes(b"x")
    (tmp_path / name).write_bytes(b"x")
    assert photo_indices(tmp_path) == [1]
