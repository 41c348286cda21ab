"""``rmd-baseline serve``: the local playground page over trained models (library code in
`rmd_baselines.serve`)."""

from __future__ import annotations

import sys

import click

from .base import PROG, common


@click.command("serve")
@click.option("--model", "model_dirs", type=click.Path(file_okay=False), multiple=True, required=True,
              help="A model directory (route, recommend or respond; one per task). Repeat for several.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="TCP port (0: any free port).")
@click.option("--host", default=None,
              help="Address to listen on (default 127.0.0.1, this machine only). Any other address lets other "
                   "machines in: a warning says so.")
@common
def serve(model_dirs, port, host):
    """A local playground: one page (no external resources, works offline) where a student types a consultation
    and sees the routing top-k with the text highlighted by contribution, the recommended doctors and the
    response with its explanation. It prints its URL and stops cleanly on Ctrl-C or SIGTERM.

    The page's API answers POST /api/route, /api/recommend, /api/respond and /api/explain (a JSON object with
    "text", and "task" for explain) with exactly the JSON of the CLI's --json.

    \b
    Example:
      rmd-baseline serve --model runs/router --model runs/recommender --model runs/responder
    """
    from ..serve import LOOPBACK, is_loopback, serve as run, start_server

    host = host or LOOPBACK
    if not is_loopback(host):
        click.echo(f"{PROG}: warning: listening on {host}: anyone who can reach this machine can use the "
                   "playground and its models", err=True)
    server = start_server(model_dirs, host, port, log=sys.stderr)

    def announce(url):
        tasks = ", ".join(f"{kind}: {entry['model']}" for kind, entry in server.playground.describe()["tasks"].items())
        click.echo(f"playground at {url} ({tasks}); Ctrl-C stops it")
        sys.stdout.flush()

    run(server, announce)
    click.echo("playground stopped")
