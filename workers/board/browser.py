"""Headless Chromium for the board's browser tests and screenshots (Playwright, dev extra).

The machine's Chromium is driven as it is: Playwright never downloads a browser, and every
background service that would reach for the network is switched off.
"""

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright: Playwright) -> Browser:
    """A fresh headless Chromium (Playwright gives each launch its own empty profile)."""
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
