"""Recipes are checked against a schema after ``extends`` is merged: keys, types, ranges."""

import dataclasses

import pytest
import yaml
from click.testing import CliRunner

from canvas_data.cli.build import main
from canvas_data.errors import InputError
from canvas_data.recipe import load_recipe
from canvas_data.recipe_schema import DiffusersOptions


def _recipe(tmp_path, data, name="r.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"extends": "demo", **data}))
    return path


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"build": {"resolutoin": 512}},
            r"unknown key build\.resolutoin \(did you mean 'resolution'\?\)",
        ),
        ({"biuld": {"resolution": 512}}, r"unknown key biuld \(did you mean 'build'\?\)"),
        (
            {"split": {"test_per_objects": 1}},
            r"split\.test_per_objects \(did you mean 'test_per_object'",
        ),
        ({"shards": {"max_sample": 5}}, r"shards\.max_sample \(did you mean 'max_samples'"),
        ({"styles": {"Monet": {"promt": "x"}}}, r"styles\.Monet\.promt \(did you mean 'prompt'"),
        ({"stylizers": {"difusers": {}}}, r"stylizers\.difusers \(did you mean 'diffusers'"),
        (
            {"stylizers": {"diffusers": {"strenght": 0.5}}},
            r"stylizers\.diffusers\.strenght \(did you mean 'strength'",
        ),
        (
            {"stylizers": {"procedural": {"min_sid": 5}}},
            r"stylizers\.procedural\.min_sid \(did you mean 'min_side'",
        ),
    ],
)
def test_unknown_keys_are_refused_with_the_closest_known_key(tmp_path, data, expected):
    path = _recipe(tmp_path, data)
    with pytest.raises(ValueError, match=expected) as err:
        load_recipe(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"build": {"resolution": "big"}}, r"build\.resolution: .*valid integer, got 'big'"),
        ({"build": {"resolution": 0}}, r"build\.resolution: .*greater than or equal to 8, got 0"),
        ({"build": {"resolution": "512"}}, r"build\.resolution: .*valid integer, got '512'"),
        ({"build": {"resolution": True}}, r"build\.resolution: .*valid integer, got True"),
        ({"build": {"jpeg_quality": 101}}, r"build\.jpeg_quality: .*less than or equal to 100"),
        ({"build": {"photos_per_object": -3}}, r"build\.photos_per_object: .*greater than"),
        ({"build": {"objects": 7}}, r"build\.objects: must be a name or a non-empty list"),
        ({"build": [1, 2]}, r"build: must be a mapping"),
        ({"split": {"test_per_object": -1}}, r"split\.test_per_object: .*greater than"),
        ({"seed": 1.5}, r"seed: .*valid integer"),
        ({"photos": {"source": "web"}}, r"photos\.source: .*'folder', 'bundled' or 'manifest'"),
        ({"stylizers": {"diffusers": {"strength": 1.5}}}, r"stylizers\.diffusers\.strength: "),
        (
            {"stylizers": {"diffusers": {"resolution": 500}}},
            r"stylizers\.diffusers\.resolution: .*multiple of 8",
        ),
        ({"styles": {"Monet": {"procedural": "blur"}}}, r"styles\.Monet\.procedural: .*valid list"),
        (
            {"styles": {"Monet": {"procedural": [{"op": "blur", "radius": "x"}]}}},
            r"style 'Monet', step 1, op 'blur'",
        ),
        (
            {"styles": {"Monet": {"procedural": [{"op": "blurr"}]}}},
            r"style 'Monet', step 1: unknown op 'blurr'",
        ),
        (
            {"responsible_ai": {"dataBiasess": "x"}},
            r"responsible_ai\.dataBiasess \(did you mean 'dataBiases'",
        ),
    ],
)
def test_wrong_types_and_ranges_name_the_key_and_the_file(tmp_path, data, expected):
    path = _recipe(tmp_path, data)
    with pytest.raises(ValueError, match=expected) as err:
        load_recipe(path)
    assert f"recipe {path}" in str(err.value) and "\n" not in str(err.value)


def test_extends_merges_first_then_the_whole_is_checked(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"extends": "demo", "build": {"resolution": 256}}))
    child = _recipe(tmp_path, {"extends": str(base), "build": {"jpeg_quality": 80}}, "child.yaml")
    recipe = load_recipe(child)
    assert (recipe.resolution, recipe.jpeg_quality, recipe.photos_per_object) == (256, 80, 4)
    # a child may fix a key of its parent: only the merged recipe has to be valid
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"extends": "demo", "build": {"resolution": 0}}))
    fixed = _recipe(tmp_path, {"extends": str(bad), "build": {"resolution": 64}}, "fixed.yaml")
    assert load_recipe(fixed).resolution == 64
    with pytest.raises(ValueError, match=r"build\.resolution"):
        load_recipe(bad)


def test_python_tags_and_broken_yaml_are_one_line_errors(tmp_path):
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("extends: demo\nbuild: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ValueError, match=r"recipe .*tagged\.yaml: not valid YAML") as err:
        load_recipe(tagged)
    assert "\n" not in str(err.value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("build: {resolution: 512\n")
    with pytest.raises(ValueError, match=r"broken\.yaml: not valid YAML \(line \d+\)"):
        load_recipe(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match=r"list\.yaml: must be a mapping of keys, got list"):
        load_recipe(listed)
    extends = tmp_path / "extends.yaml"
    extends.write_text("extends: [demo]\n")
    with pytest.raises(ValueError, match=r"extends\.yaml: extends: must be a recipe name"):
        load_recipe(extends)


def test_unknown_style_or_object_names_list_the_valid_ones(tmp_path):
    path = _recipe(tmp_path, {"build": {"objects": ["Catss", "Human"]}})
    hint = r"unknown object names \['Catss'\] \(did you mean 'Cats'\?\)"
    with pytest.raises(ValueError, match=hint) as e:
        load_recipe(path)
    assert "valid objects: Architectures, Bears" in str(e.value)
    path = _recipe(tmp_path, {"build": {"styles": ["Monnet"]}})
    hint = r"unknown style names \['Monnet'\] \(did you mean 'Monet'\?\)"
    with pytest.raises(ValueError, match=hint):
        load_recipe(path)
    with pytest.raises(InputError, match=r"did you mean 'Van_Gogh'"):
        load_recipe("demo").style("van gogh")


def test_shipped_recipes_are_valid_and_unchanged():
    for name in ("demo", "unlearncanvas"):
        recipe = load_recipe(name)
        assert "extends" not in recipe.data and recipe.styles


def test_diffusers_options_cover_every_setting():
    from canvas_data.stylizers.diffusers_backend import DiffusionSettings

    names = {f.name for f in dataclasses.fields(DiffusionSettings)}
    assert set(DiffusersOptions.model_fields) == names


def test_cli_reports_a_bad_recipe_in_one_line(tmp_path):
    path = _recipe(tmp_path, {"build": {"resolutoin": 512}})
    result = CliRunner().invoke(
        main, ["stylize", "--work", str(tmp_path / "w"), "--recipe", str(path)]
    )
    assert result.exit_code != 0
    assert "did you mean 'resolution'" in result.output
    assert "Traceback" not in result.output


def test_a_section_with_no_value_takes_the_schemas_defaults(tmp_path):
    from canvas_data.recipe_schema import BuildSpec, SplitSpec

    path = tmp_path / "bare.yaml"
    path.write_text("extends: demo\nname: bare\nbuild:\nsplit:\nstyles:\n  Monet:\n")
    recipe = load_recipe(path)
    assert recipe.resolution == BuildSpec().resolution
    assert recipe.test_per_object == SplitSpec().test_per_object
    assert recipe.style("Monet").prompt == "a painting in Monet style"
    assert "build:" in recipe.to_yaml()  # kept as written: the hash is of the file, not defaults


@pytest.mark.parametrize("test_per_object", [3, 4, 40])
def test_a_test_split_that_leaves_no_train_photo_is_refused(tmp_path, test_per_object):
    path = _recipe(
        tmp_path, {"build": {"photos_per_object": 3}, "split": {"test_per_object": test_per_object}}
    )
    with pytest.raises(ValueError) as err:
        load_recipe(path)
    message = str(err.value)
    assert message.startswith(f"recipe {path}: split.test_per_object: {test_per_object} ")
    assert "build.photos_per_object (3)" in message and "\n" not in message


def test_the_split_is_checked_after_extends(tmp_path):
    parent = _recipe(tmp_path, {"split": {"test_per_object": 5}}, name="parent.yaml")
    child = tmp_path / "child.yaml"
    child.write_text(yaml.safe_dump({"extends": str(parent), "build": {"photos_per_object": 5}}))
    with pytest.raises(ValueError, match=r"child\.yaml: split\.test_per_object: 5 "):
        load_recipe(child)
    fits = _recipe(tmp_path, {"build": {"photos_per_object": 6}})
    assert load_recipe(fits).photos_per_object == 6


def test_build_names_outside_the_taxonomy_name_the_key(tmp_path):
    path = _recipe(
        tmp_path, {"taxonomy": {"objects": ["Cats", "Dogs"]}, "build": {"objects": ["Human"]}}
    )
    with pytest.raises(ValueError, match=rf"recipe {path}: build\.objects: unknown object"):
        load_recipe(path)


def test_diffusers_steps_and_strength_that_denoise_nothing_are_refused(tmp_path):
    path = _recipe(tmp_path, {"stylizers": {"diffusers": {"steps": 2, "strength": 0.2}}})
    with pytest.raises(ValueError) as err:
        load_recipe(path)
    assert str(err.value).startswith(f"recipe {path}: stylizers.diffusers: steps: 2 steps at")
    ok = _recipe(tmp_path, {"stylizers": {"diffusers": {"steps": 5, "strength": 0.2}}}, "ok.yaml")
    assert load_recipe(ok).stylizer_options("diffusers")["steps"] == 5
