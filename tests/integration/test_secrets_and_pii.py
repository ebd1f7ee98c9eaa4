"""A real worker keeps secrets out of its log, and card numbers, emails and phone numbers
out of its escalations (Redis and Kafka) and its log."""

import json

import pytest

from tests.support import Deployment, chat, wait_for

pytestmark = pytest.mark.integration

SECRET = "fake-sasl-S3cret-7f3a9c"
CARD = "4242 4242 4242 4242"
EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
PERSONAL = (CARD, CARD.replace(" ", ""), EMAIL, PHONE)


def test_secrets_and_personal_data_never_leave_the_worker(deployment: Deployment) -> None:
    # The embedded broker has no SASL: the secret sits in a setting PLAINTEXT leaves unused.
    deployment.extra_env = {
        "ESCALATOR_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "ESCALATOR_KAFKA_SASL_USERNAME": "escalator",
        "ESCALATOR_KAFKA_SASL_PASSWORD": SECRET,
    }
    worker = deployment.start_worker()
    session = "s-pii"
    text = f"My card {CARD} was charged, email me at {EMAIL} or call {PHONE}. Get me a human"
    deployment.send([chat(session, "p1", text, second=1)])
    # A record whose key is not its session id is dead-lettered and logged with its ids.
    bad = chat(EMAIL, "p2", f"card {CARD}", second=2)
    deployment.send_raw([(b"another-key", json.dumps(bad).encode())])

    assert wait_for(lambda: len(deployment.queue_entries()) >= 1)
    _, escalation = deployment.queue_entries()[0]
    queued = escalation.model_dump_json()
    published = deployment.read_topic(deployment.escalations_topic, minimum=1)[0][1].decode()
    for packet in (queued, published):
        for value in PERSONAL:
            assert value not in packet
        assert "[card …4242]" in packet
        assert "[email]" in packet
        assert "[phone]" in packet

    assert wait_for(lambda: "dead-lettered" in worker.log_path.read_text(), timeout=20)
    log = worker.log_path.read_text()
    assert SECRET not in log
    for value in PERSONAL:
        assert value not in log
