"""Running ``rmd-baseline`` in-process through click's CliRunner, for the CLI tests."""

from click.testing import CliRunner

from rmd_baselines.cli.main import cli


def run(*args, input=None):
    """Exit code and everything the command printed (stdout and stderr, as a terminal shows them)."""
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    return result.exit_code, result.output


def run_streams(*args, input=None):
    """Exit code, stdout and stderr, kept apart."""
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    return result.exit_code, result.stdout, result.stderr
