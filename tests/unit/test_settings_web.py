"""The web address a worker announces to the others, so session queries reach the owner."""

import socket

from workers.settings import load_settings


def test_a_worker_bound_to_one_address_announces_that_address() -> None:
    settings = load_settings(web_host="10.1.2.3", web_port=7000)
    assert settings.web_canonical_url == "http://10.1.2.3:7000"


def test_a_worker_bound_to_every_interface_announces_its_host_name() -> None:
    settings = load_settings(web_host="0.0.0.0", web_port=6066)
    assert settings.web_canonical_url == f"http://{socket.gethostname()}:6066"


def test_an_advertised_host_wins() -> None:
    settings = load_settings(web_host="0.0.0.0", web_advertised_host="worker-1.escalator")
    assert settings.web_canonical_url == "http://worker-1.escalator:6066"
