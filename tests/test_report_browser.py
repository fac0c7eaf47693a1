"""report.html in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by Selenium renders the page at 1400 px, as a user opening it on a laptop would.

Skipped, with the reason, where Chromium, its driver or Selenium is not installed (.ci/run installs
them where apt-get is available). The screenshot is kept in $REPORT_SCREENSHOT_DIR when it is set.
"""
import importlib.util
import json
import os
import shutil

import pytest

import run
from experiments import get_experiment
from training.train import RunOptions, train

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt-get install chromium chromium-driver)"),
    pytest.mark.skipif(DRIVER is None, reason="no chromedriver (apt-get install chromium-driver)"),
    pytest.mark.skipif(importlib.util.find_spec("selenium") is None, reason="Selenium is not installed"),
]
WIDTH = 1400


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={WIDTH},1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def report(synthetic_dir, tmp_path):
    """A report of two finished runs and one killed before its first epoch."""
    root, _ = synthetic_dir
    out = tmp_path / "runs"
    opts = RunOptions(data_dir=str(root), val_split=10, output_dir=str(out), verbose=0)
    for name in ("tutorial_cnn", "lenet5"):
        train(get_experiment(name).with_overrides(epochs=2, batch_size=10), opts)
    killed = out / "mlp-20260101-000000"
    killed.mkdir()
    (killed / "config.json").write_text(json.dumps(
        {"experiment": get_experiment("mlp").to_dict(), "options": {}, "environment": {}}))
    assert run.main(["report", str(out / "*"), "--out", str(tmp_path / "report"), "--data-dir", str(root)]) == 0
    return tmp_path / "report"


def test_report_renders_in_chromium(browser, report, tmp_path):
    browser.get((report / "report.html").as_uri())
    shot = os.path.join(os.environ.get("REPORT_SCREENSHOT_DIR") or tmp_path, "report.png")
    assert browser.save_screenshot(shot) and os.path.getsize(shot) > 10_000

    widths = browser.execute_script("return [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 4 and min(widths) > 0, widths          # curves, size, per class, mistakes
    rows = browser.execute_script("return [...document.querySelectorAll('tbody tr')].map(r => r.innerText)")
    assert len(rows) == 3
    assert rows[-1].startswith("mlp-20260101-000000")             # not tested yet: last
    tested = browser.execute_script(
        "return [...document.querySelectorAll('tbody tr')].map(r => r.cells[4].innerText)")[:2]
    assert all(t.endswith("%") for t in tested) and float(tested[0][:-1]) >= float(tested[1][:-1])
    fits = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert fits[0] <= fits[1], f"the page is {fits[0]} px wide in a {fits[1]} px window"
    headings = browser.execute_script("return [...document.querySelectorAll('h2')].map(h => h.innerText)")
    assert not any(h.endswith(".png") for h in headings), headings

    header = browser.execute_script("return [...document.querySelectorAll('th')].findIndex(h => "
                                    "h.innerText === 'parameters')")
    browser.find_elements("css selector", "th")[header].click()       # sort by parameters, largest first
    sizes = browser.execute_script(f"return [...document.querySelectorAll('tbody tr')].map(r => "
                                   f"Number(r.cells[{header}].dataset.value))")
    assert sizes == sorted(sizes, reverse=True)

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
