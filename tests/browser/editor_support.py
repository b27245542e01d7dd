"""Playwright helpers for the editor tests: a logged-in page, palette drags, port wiring."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.test import Client
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous for a shared 2-core machine; every wait is on a condition, never a sleep.
UI_TIMEOUT_MS = 15_000


@contextmanager
def chromium_browser() -> Iterator:
    """Debian's Chromium, headless, with the flags the team agreed on (never a downloaded one)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def session_cookie(user, base_url: str) -> dict:
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}


def dashboard_page(browser, base_url: str, cookie: dict, deployment_id: int):
    """A logged-in page on a deployment's default dashboard."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([cookie])
    page = context.new_page()
    page.goto(f"{base_url}/deployments/{deployment_id}/dashboard/")
    return page


def count_cell(page, key: str, view: str = "counts"):
    """The ``count`` cell of a key's row in a view's table."""
    return page.locator(f'[data-view="{view}"] .live-row[data-key="{key}"] .cell[data-col="count"]')


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def open_editor(page, base_url: str, topology_id: int) -> None:
    page.goto(f"{base_url}/topologies/{topology_id}/edit/")
    page.wait_for_selector("#editor[data-ready=true]", timeout=UI_TIMEOUT_MS)


def wait_valid(page) -> None:
    page.wait_for_function(
        "document.querySelector('#validation-state').dataset.valid === 'true'", timeout=UI_TIMEOUT_MS
    )


def node_box(page, node_id: str) -> dict:
    return page.locator(f'#canvas [data-cell-id="{node_id}"]').first.bounding_box()


def drag_from_palette(page, node_type: str, x: float, y: float) -> None:
    """Drag a palette entry onto the canvas at (x, y) relative to the canvas."""
    page.locator(f'.palette-item[data-type="{node_type}"]').drag_to(
        page.locator("#canvas"), target_position={"x": x, "y": y}
    )


def port_center(page, node_id: str, port_id: str) -> tuple[float, float]:
    box = page.locator(f'#canvas [data-cell-id="{node_id}"] [port="{port_id}"]').first.bounding_box()
    assert box is not None, f"port {port_id} of {node_id} is not on the canvas"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag_wire(page, source: str, source_port: str, target: str, target_port: str) -> None:
    """Press on an output port, move to an input port in steps (as a hand would), release."""
    sx, sy = port_center(page, source, f"out:{source_port}")
    tx, ty = port_center(page, target, f"in:{target_port}")
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=8)
    page.mouse.move(tx, ty, steps=8)
    page.mouse.up()


def outline_edges(page) -> list[str]:
    return [re.sub(r"\s+", " ", t).strip() for t in page.locator("#outline-edges li span").all_inner_texts()]


def outline_nodes(page) -> list[str]:
    return page.locator("#outline-nodes [data-outline-node]").evaluate_all(
        "els => els.map(e => e.dataset.outlineNode)"
    )


def screenshot_on_failure(request, page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@contextmanager
def logged_in_page(request, browser, base_url: str, user) -> Iterator:
    """A fresh context logged in as user; a screenshot is kept when the test fails."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.add_cookies([session_cookie(user, base_url)])
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    failures_before = request.session.testsfailed
    try:
        yield page
    except Exception:
        screenshot_on_failure(request, page)
        raise
    else:
        # A fixture's teardown sees the failure only in the session's count, not as an exception.
        if request.session.testsfailed > failures_before:
            screenshot_on_failure(request, page)
    finally:
        context.close()
