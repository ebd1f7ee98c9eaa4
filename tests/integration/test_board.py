"""The live board in a real headless Chromium, served by a real worker on the embedded broker."""

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Dialog, Page, expect, sync_playwright

from schemas.escalation import Escalation
from tests.support import Deployment, action, chat, wait_for
from workers.board.browser import launch_chromium
from workers.desk import DeskClient, InMemoryPublisher

pytestmark = pytest.mark.integration

T = TypeVar("T")
PAGE_TIMEOUT_MS = 60_000
SCRIPT_PAYLOAD = '<script>window.pwned = "script"</script> my order is late'
IMG_PAYLOAD = "<img src=x onerror=window.pwned=1> I want to talk to a human now"


@pytest.fixture
def page(deployment: Deployment) -> Iterator[Page]:
    """A page in a fresh headless Chromium. Playwright's sync API keeps an event loop running
    in this thread from here on, so the deployment (asyncio.run creates its topics) comes first
    and later asyncio helpers go through ``off_loop``."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        opened = browser.new_page(viewport={"width": 1440, "height": 900})
        opened.set_default_timeout(PAGE_TIMEOUT_MS)
        yield opened
        browser.close()


def off_loop(call: Callable[[], T]) -> T:
    """Run a helper that uses asyncio.run: it cannot nest in Playwright's sync event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def get(url: str) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def rising_frustration(session: str) -> list[dict[str, Any]]:
    """A parcel enquiry that goes from calm to fed up: four scored customer turns."""
    return [
        chat(session, "p1", "Hi, could you check on my order #4471229 please?", second=0),
        chat(session, "p2", "Thanks! Tracking shows your parcel is on its way.", "bot", 3),
        chat(session, "p3", "Hmm, it said that on Monday as well. Is it delayed?", second=6),
        chat(session, "p4", "Thanks! Tracking shows your parcel is on its way.", "bot", 9),
        action(session, "p5", "reschedule_delivery", "failed", second=12),
        chat(
            session,
            "p6",
            "That doesn't help at all, I've been waiting a whole week now.",
            second=15,
        ),
        chat(session, "p7", "I can see how frustrating this must be.", "bot", 18),
        chat(
            session,
            "p8",
            "This is ridiculous. Nothing works and I keep getting the same message!",
            second=21,
        ),
    ]


def only_escalation(deployment: Deployment, session: str) -> Escalation:
    assert wait_for(lambda: len(deployment.queue_entries()) == 1, timeout=60)
    [(_, escalation)] = deployment.queue_entries()
    assert escalation.session_id == session
    return escalation


async def claim_next(deployment: Deployment, consumer: str) -> None:
    desk = DeskClient(
        deployment.redis_url,
        deployment.keys,
        publisher=InMemoryPublisher(),
        consumer=consumer,
        claim_timeout=600,
    )
    async with desk:
        assert await desk.claim_next() is not None


def test_an_escalation_appears_live_and_its_session_view_draws_trend_matrix_and_evidence(
    deployment: Deployment, page: Page
) -> None:
    worker = deployment.start_worker()
    status, _, body = get(worker.web_url + "/board/api/escalations")
    assert status == 200
    assert json.loads(body)["queues"] == []

    page.goto(worker.web_url + "/board")
    expect(page.locator("#status")).to_have_class("status live")
    page.evaluate("window.notReloaded = true")

    session = "s-board-parcel"
    off_loop(lambda: deployment.send(rising_frustration(session)))
    escalation = only_escalation(deployment, session)

    row = page.locator(f'section[data-queue="{escalation.queue}"] tr', has_text=session)
    expect(row).to_be_visible()
    expect(row.locator(".reasons")).to_contain_text(escalation.reasons[0].replace("_", " "))
    expect(row.locator(".prio")).to_have_text(f"P{escalation.priority}")
    expect(row.locator(".pill.unclaimed")).to_be_visible()
    expect(row.locator(".excerpt")).to_contain_text(escalation.evidence[0].excerpt)
    assert page.evaluate("window.notReloaded") is True

    off_loop(lambda: asyncio.run(claim_next(deployment, "desk-board-test")))
    expect(row.locator(".pill.claimed")).to_be_visible()
    expect(row).to_contain_text("desk-board-test")

    row.locator("a.session-link").click()
    page.wait_for_url(f"**/board/sessions/{session}")
    trend = escalation.frustration.trend
    assert len(trend) >= 2  # a line, however early the escalation
    line = page.locator("#trend-chart polyline.trend-line")
    expect(line).to_have_count(1)
    assert len((line.get_attribute("points") or "").split()) == len(trend)
    expect(page.locator("#trend-chart circle")).to_have_count(len(trend))

    assert escalation.matrix is not None
    bars = page.locator(".matrix-bar")
    expect(bars).to_have_count(3)
    scores = [float(bars.nth(index).get_attribute("data-score") or "nan") for index in range(3)]
    matrix = escalation.matrix
    assert scores == [matrix.emotional_load, matrix.context_ambiguity, matrix.consequence]
    expect(page.locator(".verdict")).to_have_text(matrix.verdict.replace("_", " "))

    evidence = page.locator("#evidence li")
    expect(evidence).to_have_count(len(escalation.evidence))
    for index, item in enumerate(escalation.evidence):
        expect(evidence.nth(index).locator(".excerpt")).to_have_text(item.excerpt)
        expect(evidence.nth(index).locator(".cue")).to_contain_text(item.cue)
    expect(page.locator(".goal")).to_have_text(escalation.handoff.goal)
    expect(page.locator("#packet")).to_contain_text("reschedule_delivery")
    expect(page.locator("#transcript .turn")).to_have_count(len(escalation.handoff.transcript))
    expect(page.locator("#live-facts .pill.claimed")).to_be_visible()


def test_hostile_chat_text_is_shown_as_text_and_never_runs(
    deployment: Deployment, page: Page
) -> None:
    worker = deployment.start_worker()
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    response = page.goto(worker.web_url + "/board")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy

    session = "s-board-hostile"
    off_loop(
        lambda: deployment.send(
            [
                chat(session, "h1", SCRIPT_PAYLOAD, second=0),
                chat(session, "h2", IMG_PAYLOAD + " <marquee>please</marquee>", second=2),
            ]
        )
    )
    escalation = only_escalation(deployment, session)
    row = page.locator("tr", has_text=session)
    expect(row.locator(".excerpt")).to_contain_text(IMG_PAYLOAD)
    assert page.locator("#queues img, #queues marquee").count() == 0

    page.goto(worker.web_url + f"/board/sessions/{session}")
    expect(page.locator(".goal")).to_have_text(SCRIPT_PAYLOAD)
    expect(page.locator("#transcript .turn .text").nth(0)).to_have_text(SCRIPT_PAYLOAD)
    expect(page.locator("#evidence .excerpt").filter(has_text=IMG_PAYLOAD)).to_have_count(1)
    expect(page.locator("img")).to_have_count(0)
    expect(page.locator("marquee")).to_have_count(0)
    # Only the two shipped scripts: none of the chat's.
    expect(page.locator("script")).to_have_count(2)
    assert page.evaluate("window.pwned") is None
    assert dialogs == []
    assert escalation.handoff.goal == SCRIPT_PAYLOAD

    # The static route serves the shipped files by name and nothing else.
    assert get(worker.web_url + "/board/static/board.js")[0] == 200
    assert get(worker.web_url + "/board/static/..%2F__init__.py")[0] == 404
    assert get(worker.web_url + "/board/api/sessions/s-never-escalated")[0] == 404
