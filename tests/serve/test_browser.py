"""The page in a real browser: Debian's chromium driven by selenium against a real `fakescan serve`.

The server runs in a process of its own on 127.0.0.1. The test uploads a sample video, waits for the
verdict, checks the timeline has one point per searched frame, clicks a point and waits for that
frame's heat map to load, and saves a screenshot of the page (the test artefact) in
``$FAKESCAN_ARTIFACTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.serve.conftest import free_port, start_server, stop_server

FRAMES = 8
CHROME_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,1500",
)  # fmt: skip


def browser(profile: Path):
    """A headless chromium with a fresh profile, or a skip naming what is missing."""
    from selenium import webdriver

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver)
    chrome = webdriver.Chrome(options=options, service=service)
    chrome.set_page_load_timeout(30)
    chrome.set_script_timeout(30)
    return chrome


@pytest.mark.slow
def test_the_page_shows_verdict_timeline_and_heatmaps(
    samples: Path, serve_checkpoint: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    port = free_port()
    server = start_server(serve_checkpoint, tmp_path / "data", port)
    chrome = None
    try:
        chrome = browser(tmp_path / "profile")
        chrome.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(chrome, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        frames = chrome.find_element(By.ID, "frames")
        frames.clear()
        frames.send_keys(str(FRAMES))
        chrome.find_element(By.ID, "file").send_keys(str(samples / "videos/single_face.mp4"))
        WebDriverWait(chrome, 120).until(lambda d: d.find_element(By.ID, "result").is_displayed())
        verdict = chrome.find_element(By.ID, "verdict").text
        assert verdict.startswith(("Likely FAKE", "Likely REAL")) and "single_face.mp4" in verdict
        assert "against the threshold 0.300" in chrome.find_element(By.ID, "score-text").text
        points = chrome.find_elements(By.CSS_SELECTOR, "#timeline .point")
        searched = chrome.execute_script("return state.job.result.results[0].frames.length")
        assert len(points) == searched == FRAMES
        assert all(p.get_attribute("aria-label").startswith("frame ") for p in points)
        points[3].click()
        index = points[3].get_attribute("data-index")
        WebDriverWait(chrome, 30).until(
            lambda d: (
                f"#{index} " in d.find_element(By.ID, "frame-label").text
                and d.execute_script(
                    "const i = document.getElementById('heatmap');"
                    "return i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:');"
                )
            )
        )
        assert "selected" in points[3].get_attribute("class")
        for image in ("frame-image", "crop", "spectrum"):
            assert chrome.execute_script(f"return document.getElementById('{image}').naturalWidth") > 0
        loaded = chrome.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(
            url.startswith(f"http://127.0.0.1:{port}/") or url.startswith("blob:") for url in loaded
        )
        out = Path(os.environ.get("FAKESCAN_ARTIFACTS", tmp_path))
        out.mkdir(parents=True, exist_ok=True)
        assert chrome.save_screenshot(str(out / "serve-page.png"))
        print(f"screenshot: {out / 'serve-page.png'}")
    finally:
        if chrome is not None:
            chrome.quit()
        stop_server(server)
