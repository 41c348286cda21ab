"""``rmd-baseline``: the command line's root group. Each command group lives in its own module of this package
(``data``, ``train``, ``classify`` for route/recommend, ``respond``, ``evaluate``, ``reproduce`` for reproduce/report);
they only parse arguments and call library functions. Shared behaviour (one-line errors, exit statuses,
``--quiet``/``--debug``, JSON output) is in ``base``.
"""

from __future__ import annotations

import click

from .. import __version__
from .base import _DEBUG, PROG, RmdGroup, common  # noqa: F401  (_DEBUG: tests switch --debug on through it)
from .classify import recommend, route
from .data import data
from .evaluate import evaluate
from .explain import explain
from .reproduce import report_command, reproduce_command
from .respond import respond
from .serve import serve
from .train import train


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


for command in (data, evaluate, train, route, recommend, respond, reproduce_command, report_command, explain,
                serve):
    cli.add_command(command)


def main() -> None:
    cli.main(prog_name=PROG)


if __name__ == "__main__":
    main()
