"""The CLI's exit statuses for what is not an error of the data or the usage: Ctrl-C, a closed output pipe, an
aborted prompt, and a bug (one line and exit 1, the traceback with --debug)."""

import click

from rmd_baselines.cli import main as cli_main
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


def test_a_bug_is_one_line_with_exit_1_and_the_traceback_on_request(capsys, monkeypatch):
    group = group_raising(ValueError("unexpected state"))
    assert group.main(["boom"], standalone_mode=False) == 1
    err = capsys.readouterr().err
    assert err == ("rmd-baseline: error: internal error: ValueError: unexpected state "
                   "(rerun with --debug for the traceback)\n")
    monkeypatch.setitem(cli_main._DEBUG, "on", True)
    assert group.main(["boom"], standalone_mode=False) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise error' in err and "--debug" not in err
