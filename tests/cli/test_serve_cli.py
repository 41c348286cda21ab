"""``rmd-baseline serve`` as a real process: it prints its URL, answers, warns when it listens beyond this
machine, refuses a port in use with one line, and stops cleanly (exit 0, no traceback) on Ctrl-C and SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from ..conftest import ROOT, SAMPLE
from ..sample_models import classifier_dir

pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"bundled sample {SAMPLE} not generated")


def start(*args):
    """A serve process and the URL it printed."""
    process = subprocess.Popen([sys.executable, "-m", "rmd_baselines.cli.main", "serve", *map(str, args)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = process.stdout.readline()
    if not line.startswith("playground at "):
        process.kill()
        raise AssertionError(f"no URL: {line!r} {process.stderr.read()!r}")
    return process, line.split()[2]


def stop(process, signum) -> tuple[int, str, str]:
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_prints_its_url_answers_and_stops_cleanly(tmp_path_factory, signum):
    model = classifier_dir(tmp_path_factory, "route", "svm-char")
    process, url = start("--model", model, "--port", "0")
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url, timeout=30) as reply:
            assert reply.status == 200 and b"RealMedDial playground" in reply.read()
        request = urllib.request.Request(url + "api/route", data=json.dumps({"text": "胸口闷"}).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert json.loads(reply.read())["label"]
    finally:
        code, stdout, stderr = stop(process, signum)
    assert code == 0 and stdout == "playground stopped\n" and stderr == ""


def test_another_host_warns(tmp_path_factory):
    model = classifier_dir(tmp_path_factory, "route", "svm-char")
    process, url = start("--model", model, "--port", "0", "--host", "0.0.0.0")
    code, _, stderr = stop(process, signal.SIGTERM)
    assert url.startswith("http://127.0.0.1:")
    assert code == 0 and stderr.startswith("rmd-baseline: warning: listening on 0.0.0.0: anyone who can reach")


def test_a_port_in_use_and_bad_models_are_one_line_errors(tmp_path_factory):
    import socket

    model = classifier_dir(tmp_path_factory, "route", "svm-char")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "rmd_baselines.cli.main", "serve", "--model", str(model),
                                 "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr == (f"rmd-baseline: error: port {port} on 127.0.0.1 is in use "
                                                        "(choose another with --port)\n")
    result = subprocess.run([sys.executable, "-m", "rmd_baselines.cli.main", "serve", "--model", str(model),
                             "--model", str(model)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "two route models" in result.stderr and result.stderr.count("\n") == 1
