"""The playground page in headless Chromium: a consultation typed into the page gets the routing, the text
highlighted by contribution, the recommended doctors and a response, with no console errors. The screenshot is
kept as a test artefact (``$RMD_TEST_ARTEFACTS/playground.png``, or the test's temporary directory);
``RMD_PLAYGROUND_SCREENSHOT=docs/playground.png`` also writes the README's screenshot (the first screen)."""

import os
import struct
import time
from pathlib import Path

import pytest

from rmd_baselines.classify import load_model
from rmd_baselines.classify.explain import explain_classification
from rmd_baselines.respond.model import load_responder, parse_context

from ..chromium import Browser, find_chromium

CONSULTATION = "病人：最近胸口闷，爬楼梯就喘不上气，血压也有点高\n医生：这种情况多久了？\n病人：一个多月了，晚上睡觉也不踏实"


def wait_until(browser: Browser, expression: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"the page never satisfied {expression}")


def click(browser: Browser, selector: str) -> None:
    """A real mouse click in the middle of an element."""
    x, y = browser.evaluate(f"(() => {{const r = document.querySelector({selector!r}).getBoundingClientRect(); "
                            "return [r.x + r.width / 2, r.y + r.height / 2];})()")
    for kind in ("mousePressed", "mouseReleased"):
        browser.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_a_consultation_typed_into_the_page(playground, model_dirs, tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    router = load_model(model_dirs["route"])
    expected_route = explain_classification(router, CONSULTATION)
    expected_doctor = load_model(model_dirs["recommend"]).predict([CONSULTATION])[0]
    expected_response = load_responder(model_dirs["respond"]).responder.respond(parse_context(CONSULTATION)).response
    artefacts = Path(os.environ.get("RMD_TEST_ARTEFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    shot = artefacts / "playground.png"
    browser = Browser(executable)
    try:
        browser.call("Emulation.setDeviceMetricsOverride", width=1200, height=1000, deviceScaleFactor=1, mobile=False)
        browser.load(playground.url)
        browser.evaluate("document.getElementById('text').focus()")
        for line_number, line in enumerate(CONSULTATION.split("\n")):
            if line_number:
                browser.call("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter",
                             windowsVirtualKeyCode=13, text="\r")
                browser.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                             windowsVirtualKeyCode=13)
            browser.call("Input.insertText", text=line)
        typed = browser.evaluate("document.getElementById('text').value")
        click(browser, "#go")
        wait_until(browser, "document.body.dataset.done === '1'")
        route_label = browser.evaluate("document.querySelector('#route .label').textContent")
        doctor_label = browser.evaluate("document.querySelector('#recommend .label').textContent")
        response = browser.evaluate("document.querySelector('#respond .response').textContent")
        shares = browser.evaluate("Array.from(document.querySelectorAll('#route .highlight')[0].children)"
                                  ".map(s => [s.textContent, Number(s.dataset.share), s.style.background])")
        errors_shown = browser.evaluate("document.querySelectorAll('.error').length")
        browser.screenshot(str(shot))
        if os.environ.get("RMD_PLAYGROUND_SCREENSHOT"):
            browser.screenshot(os.environ["RMD_PLAYGROUND_SCREENSHOT"], full_page=False)
        console = browser.errors()
    finally:
        browser.close()
    assert typed == CONSULTATION
    assert console == [] and errors_shown == 0
    assert route_label == expected_route["label"] and doctor_label == expected_doctor
    assert response == expected_response
    assert "".join(ch for ch, _, _ in shares) == CONSULTATION
    assert [share for _, share, _ in shares] == pytest.approx(expected_route["char_shares"], rel=1e-5, abs=1e-12)
    coloured = [background for _, share, background in shares if background]
    assert len(coloured) >= 5 and any("46, 160, 67" in c for c in coloured)
    width, height = png_size(shot)
    assert 1100 <= width <= 1200 and height > 1000  # the whole page, longer than the window
