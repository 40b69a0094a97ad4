"""What the three console commands share: every option of every command says what it does."""

import click
import pytest

from canvas_data.cli.build import main as build_main
from canvas_data.cli.eval import main as eval_main
from canvas_data.cli.train import main as train_main


@pytest.mark.parametrize("group", [build_main, train_main, eval_main], ids=lambda g: g.name)
def test_every_option_of_every_command_has_help(group):
    assert group.commands
    for name, command in group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
