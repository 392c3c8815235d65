"""Presidio's pattern recognizers run offline: no spaCy model, no public-suffix download."""

from __future__ import annotations

import socket

import pytest

from aicommons.data.deid import detect
from aicommons.data.deid.detectors import detectors


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_email_recognizer_validates_domains_without_the_network(no_network):
    from aicommons.data.deid.presidio_bridge import OfflineEmailRecognizer

    recognizer = OfflineEmailRecognizer()
    assert recognizer.validate_result("jane.doe@example.co.uk")
    assert not recognizer.validate_result("jane.doe@localhost")


def test_a_pattern_only_analyzer_finds_what_its_recognizers_cover(no_network):
    from aicommons.data.deid.presidio_bridge import pattern_analyzer, presidio_detector

    find = presidio_detector(pattern_analyzer())
    spans = {(s.type, s.text) for s in find("Email jane@example.com or call (217) 977-6317 from 203.0.113.7.")}
    assert {("email", "jane@example.com"), ("phone", "(217) 977-6317"), ("ip_address", "203.0.113.7")} <= spans


def test_a_presidio_recognizer_plugs_into_the_detector_registry(no_network, monkeypatch):
    from presidio_analyzer.predefined_recognizers import IbanRecognizer

    from aicommons.data.deid.presidio_bridge import pattern_analyzer, presidio_detector

    iban = presidio_detector(pattern_analyzer([IbanRecognizer()]), {"IBAN_CODE": "iban"})
    monkeypatch.setitem(detectors._items, "iban", iban)  # restored after the test
    spans = detect("Pay to GB82 WEST 1234 5698 7654 32, thanks.", types=["iban"])
    assert [(s.type, s.text) for s in spans] == [("iban", "GB82 WEST 1234 5698 7654 32")]
