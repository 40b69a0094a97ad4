"""The benchmark's triplets in a packed folder: every test photo x every train reference of the
same style and object, under the release's output names."""

from __future__ import annotations

import pytest
from conftest import TINY_OBJECTS, TINY_STYLES

from canvas_data.transfer.triplets import index_for, output_name, plan_triplets, resolve_styles


@pytest.fixture
def data(tiny_packed):
    return tiny_packed


def test_every_test_photo_with_every_train_reference(data):
    triplets = plan_triplets(index_for(data))
    # the tiny recipe: 3 photos per object, the last one test; so 2 references each
    assert len(triplets) == len(TINY_STYLES) * len(TINY_OBJECTS) * 1 * 2
    names = [t.name for t in triplets]
    assert names == sorted(names) and len(set(names)) == len(names)
    first = triplets[0]
    assert first.name == "Monet/Cats_test3_ref1.jpg"
    assert (first.content, first.reference, first.target) == (
        "Seed_Images/Cats/3", "Monet/Cats/1", "Monet/Cats/3"
    )  # fmt: skip
    for t in triplets:
        assert t.reference.split("/")[:2] == t.target.split("/")[:2] == [t.style, t.obj]
        assert t.content == f"Seed_Images/{t.obj}/{t.target.rsplit('/', 1)[1]}"
        assert t.reference != t.target


def test_subsets_and_unknown_names(data):
    index = index_for(data)
    some = plan_triplets(index, ["Van_Gogh"], ["Human"])
    assert [t.name for t in some] == [
        "Van_Gogh/Human_test3_ref1.jpg",
        "Van_Gogh/Human_test3_ref2.jpg",
    ]
    with pytest.raises(ValueError, match="Van_Gog.*Van_Gogh"):
        plan_triplets(index, ["Van_Gog"])


def test_the_release_names_and_style_sets():
    assert output_name("Van_Gogh", "Cats", 19, 18) == "Van_Gogh/Cats_test19_ref18.jpg"
    assert resolve_styles(None, ()) is None and resolve_styles(["all"], ()) is None
    assert len(resolve_styles(["60"], ())) == 60 and len(resolve_styles(["50"], ())) == 50
    assert resolve_styles(["60"], ("Monet", "Winter", "Seed_Images")) == ["Monet", "Winter"]


def test_seeds_depend_on_the_name_only(data):
    a, b = plan_triplets(index_for(data))[:2]
    assert a.seed(0) == a.seed(0) != b.seed(0) and a.seed(0) != a.seed(1)
