"""What every ``rmd-baseline`` command shares: the group class that turns failures into one line with the
toolkit's exit statuses, ``--quiet``/``--debug``, JSON output, corpus loading and warnings on stderr.

Conventions for every command: ``--json`` prints one JSON document on stdout (Chinese kept readable);
progress bars go to stderr and are silent when stderr is not a terminal or with ``--quiet``; exit status 0 on
success, 1 on a runtime failure, 2 on bad usage or bad data, always with a one-line message and no traceback
(``--debug`` shows it).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
import traceback
import warnings

import click

from .. import progress
from ..errors import RmdError

_DEBUG = {"on": bool(os.environ.get("RMD_DEBUG"))}
PROG = "rmd-baseline"


class _ClosedPipe(Exception):
    """The reader of our output went away (``rmd-baseline ... | head``); raised past click, which would exit 1."""


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM, carried past click (which would print an extra blank line for a KeyboardInterrupt)."""

    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


class Terminated(KeyboardInterrupt):
    """Raised by our SIGTERM handler: SIGTERM unwinds exactly like Ctrl-C (temporary outputs are removed)."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def _sigterm_like_ctrl_c():
    """While a command runs in the main thread, SIGTERM raises `Terminated` (a KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, OSError):  # no signals here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class RmdGroup(click.Group):
    """A click group whose failures are one line on stderr with the toolkit's exit statuses."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _ClosedPipe() from None
        except Terminated:
            raise _Interrupted("SIGTERM") from None
        except KeyboardInterrupt:
            raise _Interrupted("Ctrl-C") from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        caught: list = []
        failed = True
        try:
            check_arguments(sys.argv[1:] if args is None else args)
            with _sigterm_like_ctrl_c(), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                rv = super().main(args=args, prog_name=prog_name or PROG, complete_var=complete_var,
                                  standalone_mode=False, **extra)
            failed = False
        except _Interrupted as exc:
            click.echo(f"{PROG}: {_interrupt_message(exc.signal_name)}", err=True)
            code = 130
        except click.exceptions.NoArgsIsHelpError as exc:
            # The help on stdout, the failure in one line on stderr (like every other failure).
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            path = exc.ctx.command_path if exc.ctx else PROG
            click.echo(f"{PROG}: error: '{path}' needs a command (listed above)", err=True)
            code = 2
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            message = " ".join(exc.format_message().split())  # click lists choices on several lines
            click.echo(f"{PROG}: error: {message}{where}", err=True)
            code = 2
        except click.Abort as exc:
            # click turns Ctrl-C into Abort; the cause tells an interrupt from an aborted prompt.
            if isinstance(exc.__cause__, KeyboardInterrupt):
                click.echo(f"{PROG}: interrupted", err=True)
                code = 130
            else:
                click.echo(f"{PROG}: aborted", err=True)
                code = 1
        except RmdError as exc:
            _report(exc)
            code = exc.exit_code
        except KeyboardInterrupt as exc:
            click.echo(f"{PROG}: {_interrupt_message('SIGTERM' if isinstance(exc, Terminated) else 'Ctrl-C')}",
                       err=True)
            code = 130
        except (_ClosedPipe, BrokenPipeError):
            _discard_stdout()
            code = 0
        except (OSError, MemoryError) as exc:
            _report(exc)
            code = 1
        except Exception as exc:  # a bug: still one line, the traceback on request
            _report(exc, prefix="internal error: " + type(exc).__name__ + ": ")
            code = 1
        else:
            code = rv if isinstance(rv, int) else 0
        _report_warnings(caught or [], failed)
        if standalone_mode:
            sys.exit(code)
        return code


def _report_warnings(caught, failed: bool) -> None:
    """Python warnings that escaped a command (a library's, e.g. scikit-learn's ConvergenceWarning): one line of
    ours each (the same message once), none after a failure (whose one line says what matters); ``--debug``
    shows each in full."""
    if _DEBUG["on"]:
        for warning in caught:
            sys.stderr.write(warnings.formatwarning(warning.message, warning.category, warning.filename,
                                                    warning.lineno, warning.line))
        return
    if failed:
        return
    seen = set()
    for warning in caught:
        if warning.category.__name__ == "ConvergenceWarning":
            line = ("a solver stopped at its iteration limit before converging (scikit-learn ConvergenceWarning); "
                    "the model is saved and usable (--debug shows the detail)")
        else:
            line = " ".join(str(warning.message).split())[:300]
        if line not in seen:
            seen.add(line)
            click.echo(f"{PROG}: warning: {line}", err=True)


def check_arguments(args) -> None:
    """Every argument is valid UTF-8 text, or a `UsageError` naming the first that is not. (Python hands over
    undecodable bytes as lone surrogates; a text or a label made of them would be classified as garbage.) A file
    name that is not UTF-8 is accepted when that file exists."""
    from ..errors import UsageError

    for number, arg in enumerate(args, 1):
        if not isinstance(arg, str):
            continue
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            if _existing_path(arg):
                continue
            try:
                shown = os.fsencode(arg).decode("utf-8", "backslashreplace")  # the bytes as given: \xff
            except UnicodeEncodeError:
                shown = arg.encode("utf-8", "backslashreplace").decode("utf-8")
            raise UsageError(f"argument {number} ({shown[:60]}) is not valid UTF-8 text (invalid byte at "
                             f"position {exc.start})") from None


def _existing_path(arg: str) -> bool:
    value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
    try:
        return os.path.exists(os.fsencode(value))
    except (UnicodeEncodeError, ValueError):
        return False


def _interrupt_message(signal_name: str) -> str:
    return "terminated (SIGTERM)" if signal_name == "SIGTERM" else "interrupted"


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file descriptor (e.g. captured in tests): nothing will be flushed to a pipe


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


def echo_json(obj, indent: int | None = 2) -> None:
    """One JSON document on stdout, Chinese kept readable; always valid JSON (a non-finite number becomes null,
    named under ``"non_finite"``)."""
    from ..corpus.writer import json_text

    click.echo(json_text(obj, indent=indent))


def refuse_ignored(reason: str, *names: str) -> None:
    """A `UsageError` for the first of the current command's options ``names`` that the user gave although the
    command will not use it (``reason`` says when it is used): an option silently ignored is a surprise later."""
    from click.core import ParameterSource

    from ..errors import UsageError

    ctx = click.get_current_context()
    for name in names:
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            option = next(param for param in ctx.command.params if param.name == name)
            raise UsageError(f"{option.opts[0]} {reason}; leave it out")


SEED = click.IntRange(0, 2**32 - 1)  # every --seed: what numpy and scikit-learn accept, the same everywhere


EXISTING_FILE = click.Path(exists=False, dir_okay=False)  # existence is checked by the readers (exit 2, one line)


def load_corpus(path, skip_invalid):
    """Read a corpus; with --skip-invalid say on stderr how many records were skipped."""
    from ..corpus import load_dialogues

    dialogues, report = load_dialogues(path, skip_invalid=skip_invalid)
    if report.skipped:
        click.echo(f"{PROG}: warning: {report.summary()}; first problem: {report.problems[0]}", err=True)
    return dialogues, report


SKIP_INVALID = click.option("--skip-invalid", is_flag=True,
                            help="Skip malformed records (and say how many) instead of stopping at the first.")


def echo_warnings(caught) -> None:
    """Python warnings caught while a command ran, one line each on stderr."""
    for warning in caught:
        click.echo(f"{PROG}: warning: {warning.message}", err=True)

