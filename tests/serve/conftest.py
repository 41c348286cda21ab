"""A playground server over small sample models, running in a thread for the API and browser tests."""

import http.client
import io
import json
import threading

import pytest

from rmd_baselines.serve import start_server

from ..conftest import SAMPLE
from ..sample_models import classifier_dir, responder_dir

ROUTER, RECOMMENDER, RESPONDER = ("route", "svm-char"), ("recommend", "hier-logreg-char12"), "rerank"


class Running:
    """A started server: its address, its log and a one-call HTTP client."""

    def __init__(self, server, log):
        self.server = server
        self.log = log
        self.host, self.port = server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}/"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers, decoded JSON or text) of one request on a fresh connection."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            reply = connection.getresponse()
            raw = reply.read()
            kind = reply.getheader("Content-Type", "")
            payload = json.loads(raw) if kind.startswith("application/json") else raw.decode("utf-8")
            return reply.status, dict(reply.getheaders()), payload
        finally:
            connection.close()

    def post(self, path: str, obj) -> tuple[int, object]:
        status, _, payload = self.request("POST", path, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                                          {"Content-Type": "application/json"})
        return status, payload


def run_server(model_dirs):
    log = io.StringIO()
    server = start_server([str(d) for d in model_dirs], "127.0.0.1", 0, log=log)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Running(server, log), thread


def stop_server(running, thread):
    running.server.shutdown()
    running.server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    if not SAMPLE.is_file():
        pytest.skip(f"bundled sample {SAMPLE} not generated")
    return {"route": classifier_dir(tmp_path_factory, *ROUTER),
            "recommend": classifier_dir(tmp_path_factory, *RECOMMENDER),
            "respond": responder_dir(tmp_path_factory, RESPONDER)}


@pytest.fixture(scope="module")
def playground(model_dirs):
    running, thread = run_server(model_dirs.values())
    yield running
    stop_server(running, thread)
