"""The release's prompt and caption presets, exactly as its sampling scripts write them."""

import pytest

from canvas_data.loading.tasks import TextToImage
from canvas_data.metrics.answers import THEMES, Answer, prompt_for
from canvas_data.taxonomy import OBJECTS_20, RELEASE_TEXTS, parse_caption
from canvas_data.workspace import Item

# (preset, painting of Architectures in Van_Gogh, photo of Cats)
EXPECTED = [
    # esd.py, ca.py, uce.py, salun.py:
    # f"A {object_class} image in {test_theme.replace('_', ' ')} style."
    ("release", "A Architectures image in Van Gogh style.", "A Cats image in Seed Images style."),
    # fmn.py: f"A {object_class} image in {test_theme} style"
    ("release-fmn", "A Architectures image in Van_Gogh style", "A Cats image in Seed_Images style"),
    # sample_compvis_automated.py: "Photo style." for Seed_Images
    ("release-compvis", "A Architectures image in Van Gogh style.", "A Cats image in Photo style."),
    # sample_diffuser_automated.py: "photo style", no period
    ("release-diffusers", "A Architectures image in Van Gogh style", "A Cats image in photo style"),
]


@pytest.mark.parametrize(("preset", "painting", "photo"), EXPECTED)
def test_prompts_match_the_release_scripts(preset, painting, photo):
    assert prompt_for(Answer("Van_Gogh", "Architectures", 188), preset) == painting
    assert prompt_for(Answer("Seed_Images", "Cats", 188), preset) == photo


@pytest.mark.parametrize(("preset", "painting", "photo"), EXPECTED)
def test_captions_use_the_same_presets(preset, painting, photo):
    task = TextToImage(preset)
    for item, text in ((Item("Van_Gogh", "Architectures", 1), painting),
                       (Item("Seed_Images", "Cats", 1), photo)):  # fmt: skip
        assert task.fields(item, {"image": item.key})["caption"] == text


@pytest.mark.parametrize("preset", sorted(RELEASE_TEXTS))
def test_every_preset_parses_back_for_every_theme_and_object(preset):
    for theme in THEMES:
        for obj in OBJECTS_20:
            assert parse_caption(RELEASE_TEXTS[preset](theme, obj)) == (theme, obj)


def test_templates_know_the_theme_as_written():
    answer = Answer("Van_Gogh", "Architectures", 188)
    assert (
        prompt_for(answer, "{article} {object} in {theme_name}") == "An Architectures in Van_Gogh"
    )
    with pytest.raises(ValueError, match="release-fmn"):
        prompt_for(answer, "{colour}")
