"""Screenshots of the live board for the docs: ``python -m workers.board.screenshot [OUT_DIR]``.

Everything on them is real: the embedded broker, one worker serving the board, the bundled
sample conversations plus one whose frustration rises turn by turn, produced to Kafka in two
waves, and a desk that claims one escalation without accepting it. Headless Chromium then
saves ``board.png`` and ``session.png`` (default ``docs/images``). Needs the dev extra
(Playwright), ``/usr/bin/chromium``, and a Redis at ``REDIS_URL`` or ``redis-server`` to start a
private one; the Inter font (Debian ``fonts-inter``) is used when installed.

Two settings make the three SLA states show at once within a minute: a policy file with
short SLAs for two queues, and a slow clock tick, so the worker's SLA watchdog does not
replace the breached escalation before it is photographed.
"""

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import ViewportSize, sync_playwright

from workers.board.browser import launch_chromium
from workers.demo import clear_prefix, expected_escalations, sample_events
from workers.desk import DeskClient, InMemoryPublisher
from workers.embedded import EmbeddedBroker, WorkerProcess, free_port
from workers.embedded.feed import event_record, produce
from workers.queues import QueueKeys
from workers.queues.reader import queued_escalations
from workers.redis_clients import async_client, sync_client
from workers.services import answering_redis
from workers.settings import Settings, load_settings
from workers.stream.topics import ensure_topics

PREFIX = "escalator-board-shots"
RUN_DIR = Path(".escalator/board-shots")
FIRST_WAVE = {"demo-lost-card", "demo-billing-loop", "demo-explicit-agent", "demo-address-change"}
SECOND_WAVE_AFTER_SECONDS = 16.0
SHORT_SLAS = "[handoff.queue_sla_seconds]\nfraud = 25\nbilling = 40\n"
SESSION_SHOWN = "demo-parcel-frustration"
CLAIMED_QUEUE = "claims"
CLAIMING_DESK = "desk-ana-5c1e"
STATE_TIMEOUT_SECONDS = 120.0
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}

_PARCEL_TURNS: list[tuple[str, str]] = [
    ("customer", "Hi, could you check on my order #4471229 please? It was due on Monday."),
    ("bot", "Thanks for your patience! Tracking shows your parcel is on its way."),
    ("customer", "Hmm, it said that on Monday as well. Is it delayed?"),
    ("bot", "Thanks for your patience! Tracking shows your parcel is on its way."),
    ("action", "reschedule_delivery"),
    ("customer", "That doesn't help at all, I've been waiting a whole week now."),
    ("bot", "I can see how frustrating this must be. Tracking shows your parcel is on its way."),
    ("customer", "This is ridiculous. Nothing works and I keep getting the same message!"),
]


def parcel_conversation(start: datetime) -> list[dict[str, Any]]:
    """A parcel enquiry that goes from calm to fed up while the bot repeats itself."""
    events: list[dict[str, Any]] = []
    for index, (role, text) in enumerate(_PARCEL_TURNS, start=1):
        event: dict[str, Any] = {
            "event_id": f"parcel-{index:02d}",
            "session_id": SESSION_SHOWN,
            "ts": (start + timedelta(seconds=4 * index)).isoformat().replace("+00:00", "Z"),
            "channel": "app",
            "locale": "en-GB",
            "customer_tier": "gold",
        }
        if role == "action":
            event.update(type="action", role="bot", action={"name": text, "status": "failed"})
        else:
            event.update(type="message", role=role, text=text)
        events.append(event)
    return events


def _samples_ending_now() -> list[dict[str, Any]]:
    """The bundled samples moved so their last event is now: nothing is dated in the future."""
    times = [datetime.fromisoformat(str(event["ts"])) for event in sample_events()]
    return sample_events(datetime.now(UTC) - (max(times) - min(times)))


def _worker_env(settings: Settings, policy_file: Path) -> dict[str, str]:
    return {
        "ESCALATOR_APP_ID": settings.app_id,
        "ESCALATOR_BROKER_URL": settings.broker_url,
        **settings.redis_environment(),
        "ESCALATOR_REDIS_PREFIX": settings.redis_prefix,
        "ESCALATOR_PARTITIONS": str(settings.partitions),
        "ESCALATOR_WEB_HOST": settings.web_host,
        "ESCALATOR_WEB_PORT": str(settings.web_port),
        "ESCALATOR_DATA_DIR": str(settings.data_dir),
        "ESCALATOR_POLICY_FILE": str(policy_file),
        "ESCALATOR_TICK_INTERVAL_SECONDS": "3600",
    }


def _send(settings: Settings, events: list[dict[str, Any]]) -> None:
    records = [event_record(event) for event in events]
    asyncio.run(produce(settings.bootstrap_servers[0], settings.chat_events_topic, records))


def _wait_for(client: "redis.Redis", keys: QueueKeys, events: list[dict[str, Any]]) -> None:
    """Until every escalation the decision core makes of ``events`` is in its queue."""
    sessions = {escalation.session_id for escalation in expected_escalations(events).values()}
    deadline = time.monotonic() + STATE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        queued = {escalation.session_id for _, escalation in queued_escalations(client, keys)}
        if sessions <= queued:
            return
        time.sleep(0.25)
    raise TimeoutError(f"escalations of {sorted(sessions)} did not reach Redis")


async def _claim_one(settings: Settings) -> None:
    desk = DeskClient(
        async_client(settings),
        QueueKeys(settings.redis_prefix),
        close_redis=True,
        publisher=InMemoryPublisher(),
        queues=[CLAIMED_QUEUE],
        consumer=CLAIMING_DESK,
        claim_timeout=600,
    )
    async with desk:
        await desk.claim_next()


def take_screenshots(out_dir: Path, run_dir: Path) -> None:
    """Run the deployment, bring the board to all three SLA states and photograph it."""
    broker_port = free_port()
    configured = load_settings(
        app_id=PREFIX,
        broker_url=f"kafka://127.0.0.1:{broker_port}",
        redis_prefix=PREFIX,
        partitions=4,
        web_port=free_port(),
        data_dir=run_dir / "data",
    )
    with answering_redis(configured, run_dir / "redis", print) as settings:
        _stage_and_photograph(settings, broker_port, out_dir, run_dir)


def _stage_and_photograph(
    settings: Settings, broker_port: int, out_dir: Path, run_dir: Path
) -> None:
    keys = QueueKeys(PREFIX)
    client = sync_client(settings)
    clear_prefix(client, keys)
    policy_file = run_dir / "policy.toml"
    policy_file.write_text(SHORT_SLAS, encoding="utf-8")
    samples = _samples_ending_now()
    first = [event for event in samples if event["session_id"] in FIRST_WAVE]
    second = [event for event in samples if event["session_id"] not in FIRST_WAVE]
    env = _worker_env(settings, policy_file)
    try:
        with EmbeddedBroker(port=broker_port, log_path=run_dir / "broker.log"):
            asyncio.run(ensure_topics(settings))
            with WorkerProcess(env, run_dir / "worker.log") as worker:
                worker.wait_ready()
                _send(settings, first)
                _wait_for(client, keys, first)
                time.sleep(SECOND_WAVE_AFTER_SECONDS)
                second += parcel_conversation(datetime.now(UTC) - timedelta(seconds=40))
                _send(settings, second)
                _wait_for(client, keys, second)
                asyncio.run(_claim_one(settings))
                _photograph(worker.web_url, out_dir)
    finally:
        clear_prefix(client, keys)
        client.close()


def _photograph(web_url: str, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        page.goto(f"{web_url}/board")
        # Wait for the moment the board shows a breached and a due-soon escalation.
        page.wait_for_function(
            "() => document.getElementById('total-breached').textContent !== '0'"
            " && document.getElementById('total-due_soon').textContent !== '0'",
            timeout=STATE_TIMEOUT_SECONDS * 1000,
        )
        page.wait_for_timeout(400)
        page.screenshot(path=str(out_dir / "board.png"), full_page=True)
        page.goto(f"{web_url}/board/sessions/{SESSION_SHOWN}")
        page.wait_for_selector("#trend-chart polyline")
        page.screenshot(path=str(out_dir / "session.png"), full_page=True)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    """Write board.png and session.png into the directory given (default docs/images); the
    broker's and the worker's logs stay in .escalator/board-shots."""
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else Path("docs/images")
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    take_screenshots(out_dir, RUN_DIR)
    print(f"wrote {out_dir / 'board.png'} and {out_dir / 'session.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
