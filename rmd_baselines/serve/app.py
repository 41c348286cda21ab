"""The playground's server: one page and a small JSON API over trained models, on the standard library's
`http.server.ThreadingHTTPServer` (no dependency, works offline).

API (``POST``, a JSON object with ``text``; every answer is exactly what the CLI's ``--json`` prints):

- ``/api/route`` and ``/api/recommend``: as ``rmd-baseline route|recommend TEXT --json``; optional ``top_k`` (1).
- ``/api/respond``: as ``rmd-baseline respond CONTEXT --json``; optional ``top_k`` (1) and ``department``.
- ``/api/explain``: as ``rmd-baseline explain TASK TEXT --json`` with ``task`` = ``route``, ``recommend``,
  ``respond`` or ``lm``; optional ``label`` (route, recommend), ``department`` and ``top`` (respond, 5) and
  ``context`` (lm).

A bad request is answered with 400 and a JSON error: a body that is not a JSON object, a missing or empty
``text``, an option of the wrong type, or text the model rejects. A task whose model is not loaded gets 404, as
does an unknown path. A body over 64 KiB gets 413 and is never read. A failure inside a model gets 500 with a
generic message; the traceback goes to the server's log and never to the browser. Requests are accepted
concurrently, and model calls run one at a time under a lock: the models are not documented as thread-safe
(LightGBM boosters, the rerank responder's caches), and with the GIL, computing in parallel would gain little.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Sequence, TextIO

from ..errors import RmdError, UsageError

MAX_BODY_BYTES = 64 * 1024
TASKS = ("route", "recommend", "respond")
EXPLAIN_TASKS = ("route", "recommend", "respond", "lm")
# No resource from anywhere but this server, and nothing but the page's own inline script and style.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'")


class RequestError(Exception):
    """A request the API answers with an error status and a JSON message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Playground:
    """The models behind the page: at most one per task (``route``, ``recommend``, ``respond``)."""

    def __init__(self, model_dirs: Sequence[str]):
        from ..persist import read_kind

        if not model_dirs:
            raise UsageError("give at least one --model DIR")
        self.directories: dict[str, str] = {}
        self.models: dict[str, object] = {}
        for directory in model_dirs:
            kind = read_kind(directory)
            if kind in self.directories:
                raise UsageError(f"two {kind} models ({self.directories[kind]} and {directory}): give one per task")
            self.directories[kind] = str(directory)
            self.models[kind] = self._load(kind, directory)
        self.lock = threading.Lock()

    @staticmethod
    def _load(kind: str, directory: str):
        if kind in ("route", "recommend"):
            from ..classify.classifier import load_model

            return load_model(directory, kinds=kind)
        from ..respond.explain import ResponseExplainer
        from ..respond.model import load_responder

        return ResponseExplainer(load_responder(directory))

    def describe(self) -> dict:
        """What the page needs to know: the tasks it can ask for, and which model answers each."""
        names = {}
        for kind, model in self.models.items():
            if kind == "respond":
                names[kind] = model.loaded.model
            else:
                names[kind] = (getattr(model, "metadata_", None) or {}).get("model", type(model).__name__)
        return {"tasks": {kind: {"directory": self.directories[kind], "model": names[kind]} for kind in self.models}}

    def _model(self, kind: str):
        if kind not in self.models:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no {kind} model is loaded (start serve with --model DIR of a "
                                                     f"{kind} model)")
        return self.models[kind]

    def answer(self, endpoint: str, body: dict) -> dict:
        """The JSON answer of ``POST /api/<endpoint>`` (what the CLI's ``--json`` prints for the same input)."""
        text = _option(body, "text", str, required=True)
        if not text.strip():
            raise RequestError(HTTPStatus.BAD_REQUEST, "'text' is empty")
        if endpoint == "explain":
            task = _option(body, "task", str, required=True)
            if task not in EXPLAIN_TASKS:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"'task' must be one of {', '.join(EXPLAIN_TASKS)}")
            return self._explain(task, text, body)
        model = self._model(endpoint)
        top_k = _option(body, "top_k", int, default=1, minimum=1)
        with self.lock:
            if endpoint == "respond":
                from ..respond.model import parse_context, respond_all

                department = _option(body, "department", str)
                reply = respond_all(model.responder, [parse_context(text)], [department], k=top_k)[0]
                return reply.to_json()
            from ..classify.evaluation import InputText, predict_inputs

            return predict_inputs(model, [InputText(text, "text")], top_k)[0]

    def _explain(self, task: str, text: str, body: dict) -> dict:
        from ..classify.explain import explain_classification

        model = self._model("respond" if task == "lm" else task)
        with self.lock:
            if task in ("route", "recommend"):
                return explain_classification(model, text, label=_option(body, "label", str), top_k=5)
            if task == "respond":
                return model.explain(text, department=_option(body, "department", str),
                                     alternatives=_option(body, "top", int, default=5, minimum=1))
            return model.explain_sentence(text, context=_option(body, "context", str))


def _option(body: dict, name: str, kind: type, default=None, required: bool = False, minimum: int | None = None):
    """One field of a request body, checked (a bad one is a 400)."""
    if name not in body or body[name] is None:
        if required:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"missing field {name!r}")
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{name!r} must be {'a string' if kind is str else 'an integer'}")
    if minimum is not None and value < minimum:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{name!r} must be >= {minimum}")
    return value


def page_html(playground: Playground) -> bytes:
    """The page (package data ``page.html``) with the loaded models written into its configuration block."""
    template = resources.files(__package__).joinpath("page.html").read_text("utf-8")
    config = json.dumps(playground.describe(), ensure_ascii=False).replace("</", "<\\/")
    return template.replace("__CONFIG__", config).encode("utf-8")


class PlaygroundHandler(BaseHTTPRequestHandler):
    """GET / serves the page; POST /api/<endpoint> answers JSON; every error is JSON too."""

    server_version = "rmd-playground"
    protocol_version = "HTTP/1.1"

    # ------------------------------------------------------------------------------------ responses

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def send_error(self, code, message=None, explain=None):
        """Errors the base class raises itself (malformed request line, unsupported method) as JSON too."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send_json(int(code), {"error": message or phrase})

    # ------------------------------------------------------------------------------------ methods

    def do_GET(self):  # noqa: N802 (the base class's naming)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        try:
            if not path.startswith("/api/") or path[len("/api/"):] not in (*TASKS, "explain"):
                raise RequestError(HTTPStatus.NOT_FOUND, f"no such endpoint: {path} (POST /api/route, "
                                                         "/api/recommend, /api/respond or /api/explain)")
            body = self._read_body()
            answer = self.server.playground.answer(path[len("/api/"):], body)
        except RequestError as exc:
            self._send_json(exc.status, {"error": str(exc)})
        except RmdError as exc:  # the models' one-line errors about the input: the request was bad
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": " ".join(str(exc).split())})
        except Exception:  # a bug: the traceback goes to the log, never to the browser
            self.server.log_line("internal error:\n" + traceback.format_exc())
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error (see the server's log)"})
        else:
            self._send_json(HTTPStatus.OK, answer)

    def _read_body(self) -> dict:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(HTTPStatus.BAD_REQUEST, "send the body with a Content-Length, not chunked")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            raise RequestError(HTTPStatus.BAD_REQUEST, "a JSON body with a Content-Length is required") from None
        if length < 0:
            self.close_connection = True
            raise RequestError(HTTPStatus.BAD_REQUEST, "negative Content-Length")
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body is never read: the connection cannot be reused
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"request body of {length} bytes is over the limit of {MAX_BODY_BYTES} bytes (64 KiB)")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body is not valid UTF-8") from None
        except ValueError as exc:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object like {\"text\": \"...\"}")
        return body

    def log_request(self, code="-", size="-"):
        """No access log: the server's log holds errors only."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        self.server.log_line(f"{self.address_string()} {format % args}")


class PlaygroundServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its playground, its page and where to log."""

    daemon_threads = True  # a request still running does not keep a stopping server alive
    request_queue_size = 128  # socketserver's default backlog of 5 resets a class's simultaneous connections

    def __init__(self, address: tuple[str, int], playground: Playground, log: TextIO | None = sys.stderr):
        self.playground = playground
        self.page = page_html(playground)
        self.log = log
        self._log_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, PlaygroundHandler)

    def log_line(self, line: str) -> None:
        if self.log is None:
            return
        with self._log_lock:
            self.log.write(line.rstrip("\n") + "\n")
            self.log.flush()

    def handle_error(self, request, client_address):
        """A failure outside a request handler (e.g. the client went away): one log line, nothing raised."""
        kind, value = sys.exc_info()[:2]
        self.log_line(f"{client_address[0]} connection error: {kind.__name__ if kind else 'error'}: {value}")


def url_of(server: PlaygroundServer) -> str:
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"http://{shown}:{port}/"
