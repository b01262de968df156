"""Headless Chromium for the browser tests (drive.py, style.py): Debian's `chromium` and
`chromedriver`, a 1400×900 window, the console kept. A missing one fails, never skips."""

import shutil
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def browser():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        sys.exit(
            "FAIL: chromium and chromedriver are needed (Debian: apt install chromium chromium-driver; "
            "scripts/test installs them)"
        )
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in [
        "--headless=new",
        "--no-sandbox",
        "--enable-unsafe-swiftshader",
        "--window-size=1400,900",
        "--lang=en-US",
    ]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)
