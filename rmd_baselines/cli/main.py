"""``rmd-baseline``: the command line. This module only parses arguments and calls library functions.

Conventions for every command: ``--json`` prints one JSON document on stdout (Chinese kept readable);
progress bars go to stderr and are silent when stderr is not a terminal or with ``--quiet``; exit status 0 on
success, 1 on a runtime failure, 2 on bad usage or bad data, always with a one-line message and no traceback
(``--debug`` shows it).
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import click

from .. import __version__, progress
from ..errors import RmdError

_DEBUG = {"on": bool(os.environ.get("RMD_DEBUG"))}
PROG = "rmd-baseline"


class RmdGroup(click.Group):
    """A click group whose failures are one line on stderr with the toolkit's exit statuses."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or PROG, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            code = 2
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"{PROG}: error: {exc.format_message()}{where}", err=True)
            code = 2
        except click.Abort:
            click.echo(f"{PROG}: aborted", err=True)
            code = 1
        except RmdError as exc:
            _report(exc)
            code = exc.exit_code
        except KeyboardInterrupt:
            click.echo(f"{PROG}: interrupted", err=True)
            code = 130
        except BrokenPipeError:
            code = 0
        except (OSError, MemoryError) as exc:
            _report(exc)
            code = 1
        except Exception as exc:  # a bug: still one line, the traceback on request
            _report(exc, prefix="internal error: " + type(exc).__name__ + ": ")
            code = 1
        else:
            code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _report(exc: BaseException, prefix: str = "") -> None:
    if _DEBUG["on"]:
        traceback.print_exception(exc, file=sys.stderr)
    message = " ".join(str(exc).split()) or type(exc).__name__
    hint = "" if _DEBUG["on"] or isinstance(exc, RmdError) else " (rerun with --debug for the traceback)"
    click.echo(f"{PROG}: error: {prefix}{message}{hint}", err=True)


def _set_quiet(ctx, param, value):
    if value:
        progress.set_quiet(True)
    return value


def _set_debug(ctx, param, value):
    if value:
        _DEBUG["on"] = True
    return value


def common(func):
    """``--quiet`` and ``--debug`` on every command."""
    func = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                        help="Show the traceback of an error.")(func)
    func = click.option("--quiet", "-q", is_flag=True, expose_value=False, is_eager=True, callback=_set_quiet,
                        help="No progress output on stderr.")(func)
    return func


def echo_json(obj) -> None:
    """One JSON document on stdout, Chinese kept readable."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


EXISTING_FILE = click.Path(exists=False, dir_okay=False)  # existence is checked by the readers (exit 2, one line)


@click.group(cls=RmdGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name=PROG)
@common
def cli():
    """Classical baselines for RealMedDial: department routing, doctor recommendation and medical response
    generation, scored with exactly the paper's metrics.

    \b
    Example:
      rmd-baseline data stats data/realmeddial_synthetic_sample.jsonl.gz
    """


# =====================================================================================================================
# data: validate, stats, split, convert, synth
# =====================================================================================================================


@cli.group(cls=RmdGroup)
def data():
    """Corpus tools: validate, statistics, protocol splits, format conversion, synthetic corpora."""


# =====================================================================================================================
# evaluate: generate, classify, model
# =====================================================================================================================


@cli.group(cls=RmdGroup)
def evaluate():
    """Score any system's outputs with the paper's metrics, or evaluate a trained model."""


# =====================================================================================================================
# train: route, recommend, respond
# =====================================================================================================================


@cli.group(cls=RmdGroup)
def train():
    """Train a router, recommender or responder on the protocol's train split."""


# =====================================================================================================================
# route / recommend (classification)
# =====================================================================================================================


# =====================================================================================================================
# respond (generation)
# =====================================================================================================================


# =====================================================================================================================
# reproduce / report
# =====================================================================================================================


def main() -> None:
    cli.main(prog_name=PROG)


if __name__ == "__main__":
    main()
