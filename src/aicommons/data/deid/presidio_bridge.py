"""Presidio's pattern recognizers, offline, and as aicommons detectors.

Presidio's default `AnalyzerEngine` loads a spaCy model (a download); here it runs on its
regex/checksum recognizers only, with spaCy's blank English tokenizer (shipped with spaCy, no
model) so that its context words still work. Its e-mail recognizer validates domains with
tldextract, whose default extractor fetches the public-suffix list over the network on first
use; `OfflineEmailRecognizer` uses the snapshot bundled with tldextract instead.

This module imports Presidio; nothing in `aicommons.data.deid` imports it. Use it to compare
(bench/deid.py) or to add a Presidio recognizer to the detector registry:

    from aicommons.data.deid.detectors import detectors
    from aicommons.data.deid.presidio_bridge import pattern_analyzer, presidio_detector

    detectors.add("iban", presidio_detector(pattern_analyzer(), {"IBAN_CODE": "iban"}))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.nlp_engine.no_op_nlp_engine import NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    DateRecognizer,
    EmailRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsPassportRecognizer,
)

from aicommons.data.deid.detectors import Span

# Presidio entity → aicommons entity type, for the types both know.
ENTITY_MAP: dict[str, str] = {
    "EMAIL_ADDRESS": "email",
    "IP_ADDRESS": "ip_address",
    "URL": "url",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "bank_card",
    "DATE_TIME": "birth_date",
    "US_PASSPORT": "passport",
}
# Regions Presidio's phone recognizer parses: its defaults plus mainland China.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR", "CN")


@lru_cache(maxsize=1)
def _offline_extractor() -> tldextract.TLDExtract:
    # No URLs to fetch, no cache directory: the public-suffix snapshot inside the package.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with a domain check that never touches the network."""

    def validate_result(self, pattern_text: str) -> bool:
        return _offline_extractor()(pattern_text).fqdn != ""


class TokenizerOnlyNlpEngine(NoOpNlpEngine):
    """Tokens and lower-cased words as lemmas from spaCy's blank English pipeline (no model,
    no NER), so Presidio's context words ("phone", "card" …) can raise scores."""

    engine_name = "tokenizer_only"

    def __init__(self, languages: Sequence[str] = ("en",)):
        super().__init__([{"lang_code": lang, "model_name": "blank"} for lang in languages])
        import spacy
        from spacy.lang.en.stop_words import STOP_WORDS

        self._tokenizer = spacy.blank("en")
        self._stop_words = STOP_WORDS

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        self._validate_loaded_language(language)
        doc = self._tokenizer(text)
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.text.lower() for t in doc],
            nlp_engine=self,
            language=language,
            scores=[],
        )

    def process_batch(self, texts: Iterable[Any], language: str, batch_size: int = 1, n_process: int = 1, as_tuples: bool = False, **kwargs: Any) -> Iterator[Any]:
        for item in texts:
            if as_tuples:
                text, context = item
                yield text, self.process_text(str(text), language), context
            else:
                yield item, self.process_text(str(item), language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() in self._stop_words

    def is_punct(self, word: str, language: str) -> bool:
        return bool(word) and not any(c.isalnum() for c in word)


def pattern_recognizers(phone_regions: Sequence[str] = PHONE_REGIONS) -> list[Any]:
    """Presidio's offline recognizers for the entity types aicommons also detects."""
    return [
        OfflineEmailRecognizer(),
        IpRecognizer(),
        UrlRecognizer(),
        PhoneRecognizer(supported_regions=tuple(phone_regions)),
        CreditCardRecognizer(),
        DateRecognizer(),
        UsPassportRecognizer(),
    ]


def pattern_analyzer(recognizers: Sequence[Any] | None = None) -> AnalyzerEngine:
    """An `AnalyzerEngine` with pattern recognizers only: no spaCy model, no downloads."""
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in recognizers if recognizers is not None else pattern_recognizers():
        registry.add_recognizer(recognizer)
    nlp_engine = TokenizerOnlyNlpEngine()
    nlp_engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def presidio_detector(
    analyzer: AnalyzerEngine,
    entity_map: Mapping[str, str] | None = None,
    *,
    score_threshold: float = 0.0,
) -> Callable[[str], list[Span]]:
    """A detector (text → spans) that runs `analyzer` and renames its entities by `entity_map`;
    entities missing from the map are dropped."""
    mapping = dict(entity_map or ENTITY_MAP)

    def detect_with_presidio(text: str) -> list[Span]:
        results = analyzer.analyze(text=text, language="en", entities=list(mapping), score_threshold=score_threshold)
        return [Span(r.start, r.end, mapping[r.entity_type], text[r.start : r.end], float(r.score)) for r in results]

    return detect_with_presidio
