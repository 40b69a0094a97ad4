import pytest
from click.testing import CliRunner

from canvas_data.cli.build import main


@pytest.mark.parametrize("command", ["import-hub", "export", "push"])
def test_release_commands_are_registered_with_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and len(result.output.splitlines()) > 8
    assert command in CliRunner().invoke(main, ["--help"]).output


def test_shards_offers_the_variants():
    result = CliRunner().invoke(main, ["shards", "--help"])
    for option in ("--resolution", "--styles", "--format", "--check", "webdataset|parquet|both"):
        assert option in result.output


def test_import_of_a_folder_without_parquet_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["import-hub", str(tmp_path), "--work", str(tmp_path / "w")])
    assert result.exit_code == 1 and result.output == f"Error: {tmp_path}: no .parquet files\n"
