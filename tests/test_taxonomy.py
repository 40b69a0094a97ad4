import pytest

from canvas_data.loading.tasks import TextToImage
from canvas_data.metrics.answers import THEMES, Answer, prompt_for
from canvas_data.taxonomy import (
    OBJECTS_20,
    RELEASE_TEXTS,
    SEED_STYLE,
    STYLES_50,
    STYLES_51,
    STYLES_60,
    STYLES_61,
    Taxonomy,
    caption,
    parse_caption,
)
from canvas_data.workspace import Item


def test_release_orders():
    assert len(STYLES_61) == 61 and len(set(STYLES_61)) == 61
    assert len(STYLES_60) == 60 and SEED_STYLE not in STYLES_60
    assert STYLES_61.index("Palette_Knife") == 30
    assert STYLES_61.index(SEED_STYLE) == 47
    assert STYLES_61[0] == "Abstractionism" and STYLES_61[-1] == "Winter"
    others = [s for s in STYLES_61 if s not in ("Palette_Knife", SEED_STYLE)]
    assert others == sorted(others)


def test_benchmark_subset_order():
    assert len(STYLES_51) == 51 and len(STYLES_50) == 50
    assert STYLES_51.index(SEED_STYLE) == 38
    for gone in ("Blue_Blooming", "Palette_Knife", "Pointillism", "Techno", "Impasto"):
        assert gone not in STYLES_51
    assert [s for s in STYLES_61 if s in STYLES_51] == list(STYLES_51)


def test_objects_order():
    assert len(OBJECTS_20) == 20
    assert list(OBJECTS_20) == sorted(OBJECTS_20)
    assert OBJECTS_20.index("Cats") == 4 and OBJECTS_20[-1] == "Waterfalls"


def test_canonical_caption():
    assert caption("Van_Gogh", "Cats") == "A Cats image in Van Gogh style"
    assert caption("Ukiyoe", "Architectures") == "An Architectures image in Ukiyoe style"
    assert caption(SEED_STYLE, "Dogs") == "A Dogs image in photo style"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A Cats image in Van Gogh style", ("Van_Gogh", "Cats")),
        ("A Cats image in Van Gogh style.", ("Van_Gogh", "Cats")),
        ("a cats image in van_gogh style", ("Van_Gogh", "Cats")),
        ("An Architectures image in Ukiyoe style.", ("Ukiyoe", "Architectures")),
        ("A Dogs image in photo style", (SEED_STYLE, "Dogs")),
        ("A Dogs image in Photo style.", (SEED_STYLE, "Dogs")),
        ("A Dogs image in Seed Images style", (SEED_STYLE, "Dogs")),
        ("  A Human image in Pop Art style  ", ("Pop_Art", "Human")),
    ],
)
def test_parse_every_caption_variant(text, expected):
    assert parse_caption(text) == expected


@pytest.mark.parametrize(
    "text", ["A Cats photo in Van Gogh style", "A Unicorns image in Monet style", "A Cats image"]
)
def test_parse_rejects_other_text(text):
    with pytest.raises(ValueError):
        parse_caption(text)


def test_round_trip_every_cell():
    for style in STYLES_61:
        for obj in OBJECTS_20:
            assert parse_caption(caption(style, obj)) == (style, obj)


def test_custom_taxonomy():
    tax = Taxonomy.from_spec(["Seed_Images", "Glitch", "Stained_Glass"], ["Cars", "Boats"])
    assert tax.painted_styles == ("Glitch", "Stained_Glass")
    assert tax.parse_caption("A Boats image in Stained Glass style") == ("Stained_Glass", "Boats")
    with pytest.raises(ValueError, match="duplicate"):
        Taxonomy(("A", "A"), ("B",))
    with pytest.raises(ValueError, match="letters"):
        Taxonomy(("bad.name",), ("B",))
    with pytest.raises(ValueError, match="unknown style order"):
        Taxonomy.from_spec("release-62", "release-20")


ADVERSARIAL = {  # captions that made a backtracking parser take time quadratic in their length
    "image in": lambda n: "A " + "x image in " * n + "y",
    "spaces": lambda n: "A" + " " * n + "x",
    "no style": lambda n: "A Cats" + " image in Monet" * n,
    "an an": lambda n: "an " * n + "image in",
    "spaces before style": lambda n: "a x image in x" + " " * n + "style x",
}


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_adversarial_captions_parse_in_linear_time(kind):
    """Each caption of up to the length limit is answered in a bounded number of steps: run
    under a generous timeout in a fresh process (a quadratic parser takes minutes)."""
    import json
    import subprocess
    import sys

    from canvas_data.limits import MAX_CAPTION_CHARS

    lengths = [100, 1000, MAX_CAPTION_CHARS]
    texts = [ADVERSARIAL[kind](n)[:MAX_CAPTION_CHARS] for n in lengths]
    script = (
        "import json, sys\nfrom canvas_data.taxonomy import parse_caption\n"
        "for text in json.load(sys.stdin) * 200:\n"
        "    try:\n        parse_caption(text)\n    except ValueError:\n        pass\n"
        "print('done')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "done", done.stderr


@pytest.mark.parametrize("extra", [1, 1000, 100_000])
def test_caption_over_the_limit_is_refused_unread(extra):
    from canvas_data.limits import MAX_CAPTION_CHARS

    text = "A Cats image in " + "Van Gogh " * ((MAX_CAPTION_CHARS + extra) // 9) + "style"
    with pytest.raises(ValueError, match="over the limit"):
        parse_caption(text)
    assert parse_caption("  an   Cats image   IN van_gogh STYLE . ") == ("Van_Gogh", "Cats")


# The release's prompt and caption presets, exactly as its sampling scripts write them.


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
