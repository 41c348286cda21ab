"""The playground's API: the same JSON as the CLI's --json, 400/404/413 as JSON errors, no traceback ever sent,
20 concurrent requests all answered correctly, and the page served without external resources."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rmd_baselines.serve import MAX_BODY_BYTES

from ..cli.invoke import run_streams
from .conftest import run_server, stop_server

CONSULTATION = "病人：最近胸口闷，爬楼梯就喘不上气，血压也有点高\n医生：这种情况多久了？\n病人：一个多月了"


def cli_json(*args):
    code, stdout, stderr = run_streams(*args, "--json")
    assert code == 0, stderr
    return json.loads(stdout)


def test_answers_are_the_cli_json(playground, model_dirs):
    route, recommend, respond = (str(model_dirs[k]) for k in ("route", "recommend", "respond"))
    cases = [
        ("route", {"text": CONSULTATION, "top_k": 3}, ["route", CONSULTATION, "--model", route, "--top-k", "3"]),
        ("recommend", {"text": CONSULTATION}, ["recommend", CONSULTATION, "--model", recommend]),
        ("respond", {"text": CONSULTATION, "top_k": 2}, ["respond", CONSULTATION, "--model", respond, "--top-k", "2"]),
        ("explain", {"text": CONSULTATION, "task": "route"}, ["explain", "route", CONSULTATION, "--model", route]),
        ("explain", {"text": CONSULTATION, "task": "recommend", "label": "医生-心内-01"},
         ["explain", "recommend", CONSULTATION, "--model", recommend, "--label", "医生-心内-01"]),
        ("explain", {"text": CONSULTATION, "task": "respond", "top": 3},
         ["explain", "respond", CONSULTATION, "--model", respond, "--top", "3"]),
        ("explain", {"text": "多喝水，注意休息", "task": "lm", "context": "病人：孩子发烧了"},
         ["explain", "lm", "多喝水，注意休息", "--model", respond, "--context", "病人：孩子发烧了"]),
    ]
    for endpoint, body, command in cases:
        status, answer = playground.post(f"/api/{endpoint}", body)
        assert status == 200, answer
        assert answer == cli_json(*command), endpoint


@pytest.mark.parametrize("endpoint, body, message", [
    ("route", b"not json", "not valid JSON"),
    ("route", b"[1, 2]", "must be a JSON object"),
    ("route", b"\xff\xfe", "not valid UTF-8"),
    ("route", b'{"txt": "x"}', "missing field 'text'"),
    ("route", b'{"text": 5}', "'text' must be a string"),
    ("recommend", b'{"text": "   "}', "'text' is empty"),
    ("route", b'{"text": "x", "top_k": 0}', "'top_k' must be >= 1"),
    ("route", b'{"text": "x", "top_k": true}', "'top_k' must be an integer"),
    ("respond", '{"text": "病人：  "}'.encode("utf-8"), "empty context"),
    ("respond", b'{"text": "x", "department": 3}', "'department' must be a string"),
])
def test_bad_requests_are_400(playground, endpoint, body, message):
    status, headers, answer = playground.request("POST", f"/api/{endpoint}", body,
                                                 {"Content-Type": "application/json"})
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert message in answer["error"] and "Traceback" not in answer["error"]


@pytest.mark.parametrize("body, message", [
    ({"text": "x"}, "missing field 'task'"),
    ({"text": "x", "task": "translate"}, "'task' must be one of route, recommend, respond, lm"),
    ({"text": "x", "task": "route", "label": "no such department"}, "unknown label 'no such department'"),
    ({"text": "x", "task": "respond", "top": "3"}, "'top' must be an integer"),
])
def test_bad_explain_requests_are_400(playground, body, message):
    status, answer = playground.post("/api/explain", body)
    assert status == 400 and message in answer["error"]


def test_a_body_without_length_is_400(playground):
    import socket

    with socket.create_connection((playground.host, playground.port), timeout=30) as connection:
        connection.sendall(b"POST /api/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n")
        chunks = []
        while chunk := connection.recv(65536):  # the server closes the connection after the error
            chunks.append(chunk)
        reply = b"".join(chunks).decode("utf-8")
    assert reply.startswith("HTTP/1.1 400") and "Content-Length is required" in reply


def test_unknown_paths_and_unloaded_tasks_are_404(playground, model_dirs):
    for method, path in (("POST", "/api/nope"), ("GET", "/nope"), ("GET", "/api/route"), ("POST", "/")):
        status, headers, answer = playground.request(method, path, b"{}")
        assert status == 404 and headers["Content-Type"].startswith("application/json") and answer["error"]
    router_only, thread = run_server([model_dirs["route"]])
    try:
        status, answer = router_only.post("/api/recommend", {"text": "咳嗽"})
        assert status == 404 and "no recommend model is loaded" in answer["error"]
        status, answer = router_only.post("/api/explain", {"text": "咳嗽", "task": "lm"})
        assert status == 404 and "no respond model is loaded" in answer["error"]
        assert router_only.post("/api/route", {"text": "咳嗽"})[0] == 200
    finally:
        stop_server(router_only, thread)


def test_bodies_over_64_kib_are_413(playground):
    def body_of(size: int) -> bytes:
        body = b'{"text": "' + b"a" * (size - 12) + b'"}'
        assert len(body) == size
        return body

    status, _, answer = playground.request("POST", "/api/route", body_of(MAX_BODY_BYTES + 1))
    assert status == 413 and "over the limit of 65536 bytes" in answer["error"]
    status, _, answer = playground.request("POST", "/api/route", body_of(MAX_BODY_BYTES))
    assert status == 200 and answer["label"]


def test_other_methods_get_a_json_error(playground):
    status, headers, answer = playground.request("PUT", "/api/route", b"{}")
    assert status == 501 and headers["Content-Type"].startswith("application/json") and "PUT" in answer["error"]


def test_an_internal_error_sends_no_traceback(playground, monkeypatch):
    def broken(endpoint, body):
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(playground.server.playground, "answer", broken)
    status, answer = playground.post("/api/route", {"text": "咳嗽"})
    assert status == 500 and answer == {"error": "internal error (see the server's log)"}
    assert "Traceback" in playground.log.getvalue() and "secret detail of a bug" in playground.log.getvalue()


def test_twenty_concurrent_requests(playground):
    texts = ["孩子发烧两天了，还有点咳嗽", "最近胸口闷，爬楼梯就喘", "胃疼，吃完饭就胀", "腰疼得厉害，腿也麻",
             "皮肤起了很多红疹子，很痒"]
    requests = []
    for number in range(20):
        text = texts[number % len(texts)]
        endpoint, body = [("route", {"text": text, "top_k": 3}), ("recommend", {"text": text}),
                          ("respond", {"text": text}), ("explain", {"text": text, "task": "route"})][number % 4]
        requests.append((f"/api/{endpoint}", body))
    expected = [playground.post(path, body) for path, body in requests]
    assert all(status == 200 for status, _ in expected)
    start = threading.Barrier(len(requests))

    def send(request):
        start.wait()
        return playground.post(*request)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(send, requests))
    assert answers == expected
    assert len({json.dumps(answer, sort_keys=True) for _, answer in answers}) > 5


def test_the_page(playground, model_dirs):
    status, headers, page = playground.request("GET", "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "@import" not in page
    config = json.loads(re.search(r'<script type="application/json" id="config">(.*?)</script>', page, re.S)[1])
    assert config["tasks"]["route"] == {"directory": str(model_dirs["route"]), "model": "svm-char"}
    assert set(config["tasks"]) == {"route", "recommend", "respond"}
