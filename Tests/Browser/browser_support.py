"""What the browser scripts share: starting headless Chromium, waiting for a page, reading it.

The scripts run as `python3 Tests/Browser/SCRIPT.py`, so this folder is on the import path.
"""

import os
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("PORTCULLIS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PORTCULLIS_CHROMEDRIVER", "/usr/bin/chromedriver")


class StepError(Exception):
    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def start_browser(timeout, window="1280,900", extra_args=(), console=False):
    """Headless Chromium; `console` keeps the browser console's messages for the report."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--no-first-run", f"--window-size={window}", *extra_args):
        options.add_argument(arg)
    if console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(timeout)
    return driver


def describe(error):
    """A one-paragraph message for an exception (without chromedriver's native stack trace)."""
    message = (getattr(error, "msg", None) or str(error)).split("\nStacktrace:")[0].strip()
    message = message.removeprefix("Message:").strip()
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def wait(driver, timeout, step, condition, what):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except Exception as error:  # TimeoutException, or a driver error
        raise StepError(step, f"waited {timeout:g}s for {what}: {describe(error)}") from error


def page_loaded(driver):
    return driver.execute_script("return document.readyState") == "complete"


def page_text(driver):
    # Chromium shows a JSON response as <pre>BODY</pre> (plus an empty formatter div).
    return driver.execute_script(
        "const pre = document.querySelector('body > pre');"
        "return pre ? pre.textContent : (document.body ? document.body.innerText : '');"
    )
