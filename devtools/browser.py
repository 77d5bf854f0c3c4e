"""Debian's Chromium, headless, driven by Selenium through Debian's chromedriver: for the console's
tests and its benchmark. Nothing is downloaded: both binaries come from Debian packages."""

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists() and shutil.which(CHROMEDRIVER) is not None


class Browser:
    """One headless Chromium window at a given size, logged in or not, with its console log kept."""

    def __init__(self, base: str, *, width: int = 1366, height: int = 768) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
            options.add_argument(arg)
        # No first-run calls home, no component updates: the page's own requests are all there is.
        for arg in ("--no-first-run", "--disable-background-networking", "--disable-component-update"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.base = base
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.console: list[dict] = []

    def close(self) -> None:
        self.driver.quit()

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def login(self, username: str, password: str, then: str = "/") -> None:
        from selenium.webdriver.common.by import By

        self.open(f"/login/?next={quote(then)}")
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait_ready()

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not met within {timeout} s on {self.driver.current_url}")
            time.sleep(0.02)

    def wait_ready(self, timeout: float = 10.0) -> float:
        """Milliseconds from navigation start to the page's console-ready mark (its data drawn)."""
        return self.wait(
            lambda: self.js("const m = performance.getEntriesByName('console-ready')[0]; return m && m.startTime"),
            timeout,
            "console-ready",
        )

    def text(self, css: str) -> str:
        return self.js("const n = document.querySelector(arguments[0]); return n ? n.innerText : ''", css)

    def log_entries(self) -> list[dict]:
        """Console messages since the last call (Chromium hands each one out once), kept in self.console."""
        entries = self.driver.get_log("browser")
        self.console += entries
        return entries

    def errors(self) -> list[str]:
        self.log_entries()
        return [e["message"] for e in self.console if e["level"] == "SEVERE"]

    def foreign_requests(self) -> list[str]:
        """Every resource this page loaded from anywhere but the project's own origin."""
        names = self.js("return performance.getEntriesByType('resource').map(e => e.name)")
        return [n for n in names if not n.startswith(self.base) and not n.startswith("data:")]

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def performance(self) -> dict:
        return json.loads(self.js("return JSON.stringify(performance.getEntriesByType('navigation')[0])"))
