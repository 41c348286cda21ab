"""The local playground (``rmd-baseline serve``): one self-contained page where a student types a
consultation and sees the routing top-k with the text highlighted by contribution, the recommended doctors, and
the response with its explanation, over a JSON API that answers exactly what the CLI's ``--json`` prints.

`app` holds the server, the API and the page (``page.html``, package data); `serve` runs it until Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import errno
import ipaddress
import signal
import sys
from typing import Callable, Sequence, TextIO

from ..errors import UsageError
from .app import MAX_BODY_BYTES, Playground, PlaygroundServer, page_html, url_of

LOOPBACK = "127.0.0.1"


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave `serve_forever` the way Ctrl-C does."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_server(model_dirs: Sequence[str], host: str = LOOPBACK, port: int = 8765,
                 log: TextIO | None = sys.stderr) -> PlaygroundServer:
    """Load the models and bind the server (not yet serving); a port in use is a `UsageError`."""
    playground = Playground(model_dirs)
    try:
        return PlaygroundServer((host, port), playground, log=log)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use (choose another with --port)") from None
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def serve(server: PlaygroundServer, announce: Callable[[str], None] = print) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket; ``announce`` gets the URL once listening.

    Runs in the main thread (signal handlers live there); tests drive `PlaygroundServer` directly.
    """
    def stop(signum, frame):
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        announce(url_of(server))
        server.serve_forever()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


__all__ = ["LOOPBACK", "MAX_BODY_BYTES", "Playground", "PlaygroundServer", "is_loopback", "page_html", "serve",
           "start_server", "url_of"]
