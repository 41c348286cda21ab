"""The CLI's exit statuses for what is not an error of the toolkit: Ctrl-C and a closed output pipe."""

import click

from rmd_baselines.cli.main import RmdGroup


def group_raising(error: BaseException) -> RmdGroup:
    group = RmdGroup("rmd-baseline")

    @group.command("boom")
    def boom():
        raise error

    return group


def test_ctrl_c_is_interrupted_with_status_130(capsys):
    assert group_raising(KeyboardInterrupt()).main(["boom"], standalone_mode=False) == 130
    assert capsys.readouterr().err.strip().endswith("rmd-baseline: interrupted")


def test_a_closed_output_pipe_is_not_an_error(capsys):
    assert group_raising(BrokenPipeError(32, "Broken pipe")).main(["boom"], standalone_mode=False) == 0
    assert capsys.readouterr().err == ""


def test_an_aborted_prompt_is_status_1(capsys):
    assert group_raising(click.Abort()).main(["boom"], standalone_mode=False) == 1
    assert "aborted" in capsys.readouterr().err
