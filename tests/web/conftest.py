"""Fixtures for the page tests: the real app served by uvicorn, Chromium, axe-core.

The browser is Debian's Chromium (/usr/bin/chromium, installed by .ci/system-deps), driven by
Playwright; no browser is ever downloaded. axe-core comes from the npm package pinned in
tests/web/package-lock.json, installed here with `npm ci` when missing.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from api.config import Settings
from api.db import Database
from api.main import create_app
from tests.conftest import SmtpSink
from tests.web.npm import npm_ci

WEB_TESTS = Path(__file__).resolve().parent
REPO = WEB_TESTS.parent.parent
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SLUG = "florida-minimum-arrest-age-12"


@dataclass
class LiveServer:
    """The app served over real HTTP on 127.0.0.1, in a thread of this process."""

    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        if self.thread.is_alive():  # an event stream still open: stop waiting for it
            self.server.force_exit = True
            self.thread.join(timeout=5)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def serve(settings: Settings, **overrides: Any) -> LiveServer:
    """Start uvicorn with an app built from `settings` (+ overrides) on a free port."""
    sock = free_socket()
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={"public_base_url": url, **overrides}))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    return LiveServer(app, server, thread, url)


@pytest.fixture
def live_server(settings: Settings, clean_database: Database) -> Iterator[LiveServer]:
    server = serve(settings)
    yield server
    server.stop()


@pytest.fixture
def mail_server(
    mail_settings: Settings, smtp_server: SmtpSink, clean_database: Database
) -> Iterator[LiveServer]:
    """The app with its mail worker running in-process, sending to `smtp_server`."""
    server = serve(mail_settings, mail_worker_in_process=True, mail_poll_seconds=0.1)
    yield server
    server.stop()


# --- the browser ----------------------------------------------------------------------------


# Module scope: sync Playwright keeps an event loop running in this thread while it is open,
# and later tests (asyncio.run) need the thread free of it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        # Never a skip: a suite that passes without its browser tests proves nothing about them.
        pytest.fail(f"{CHROMIUM} is missing: run .ci/system-deps (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Open pages in fresh browser contexts; every page fails the test on a script error."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(**context_options: Any) -> Any:
        context_options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(**context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js from the pinned npm package, installed with `npm ci` if missing or stale."""
    script = npm_ci() / "axe-core" / "axe.min.js"
    assert script.exists(), script
    return script


@pytest.fixture(scope="session")
def screenshots() -> Path:
    # The PostgreSQL run (at the same time as the SQLite one in `make test`) writes its own.
    folder = SCREENSHOTS
    if os.environ.get("TEST_DATABASE_URL"):
        folder = folder.with_name("screenshots-postgresql")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
