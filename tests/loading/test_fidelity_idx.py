"""idx given as a 0-d array or tensor, or a tensor of indices, selects as the plain ints do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import packed_folder

from canvas_data.loading.loaders import text_to_image
from canvas_data.loading.tasks import Selection


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("idx"))


@pytest.mark.parametrize(
    "given, plain",
    [
        (np.array(2), 2),
        (torch.tensor(2), 2),
        (torch.tensor([3, 1]), [1, 3]),
        (np.array([[1], [3]])[:, 0], [1, 3]),
        ([np.int64(1), torch.tensor(3)], [1, 3]),
    ],  # fmt: skip
)
def test_array_and_tensor_indices_read_as_ints(given, plain):
    assert Selection.of("train", idx=given) == Selection.of("train", idx=plain)


@pytest.mark.parametrize("bad", [np.array(0), torch.tensor(1.5), np.array([1.0, 2.0])])
def test_bad_array_indices_are_refused_in_one_line(bad):
    with pytest.raises(ValueError, match="^idx (holds|must be)"):
        Selection.of("train", idx=bad)


def test_a_0d_array_filters_a_view_and_a_resampled_stream(packed):
    view = text_to_image(packed, idx=np.array(1), transform=None)
    keys = {view[i]["key"] for i in range(len(view))}
    assert keys and {k.rsplit("/", 1)[1] for k in keys} == {"1"}
    stream = text_to_image(
        packed, idx=torch.tensor(1), transform=None, streaming=True, resampled=True, seed=0
    )
    drawn = [example["key"] for example in stream]  # an epoch: the selection's size
    assert len(drawn) == len(keys) and set(drawn) <= keys
