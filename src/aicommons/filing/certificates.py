"""Filing certificates: JSON documents signed with the operator's Ed25519 key, checkable offline.

A signed document is ``{"payload": {...}, "signature": {"algorithm": "Ed25519", "key_id": ...,
"value": <base64>}}``; the signature covers the payload's canonical JSON (sorted keys, no spaces,
UTF-8), so any change to any field, or to the key id, breaks it. The key id is the first 16 hex
digits of the sha256 of the raw 32-byte public key: it tells a verifier which published key to use
without trusting anything else in the document.

A revocation list is a signed document of the same shape, so a verifier that has synced one can
say "revoked as of <its issued_at>" offline, and one that was tampered with is noticed rather than
believed. The private key lives in one PKCS8 PEM file, readable by its owner only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import re
import tempfile
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from aicommons.core.errors import Invalid

ALGORITHM = "Ed25519"
KEY_FILE = "filing-ed25519.pem"
REVOCATION_LIST_KIND = "aicommons.filing.revocation-list"
CertificateStatus = Literal["valid", "revoked", "tampered", "unknown-key"]


def canonical_json(obj: Any) -> bytes:
    """The bytes a signature covers: the same for any two equal JSON values, whatever their key order."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise Invalid(f"A signed document must hold JSON values only (text, numbers, lists, mappings); {exc}.") from None


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(public_key_pem: bytes | str) -> Ed25519PublicKey:
    data = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise Invalid(f"The public key must be a PEM-encoded Ed25519 public key; it cannot be read ({exc}).") from None
    if not isinstance(key, Ed25519PublicKey):
        raise Invalid(f"The public key must be an Ed25519 key; got {type(key).__name__} instead.")
    return key


class SigningKey:
    """The operator's private signing key."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self._private_key = private_key
        self.key_id = key_id_of(private_key.public_key())

    def __repr__(self) -> str:  # never shows the key itself
        return f"SigningKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key held in memory only (tests, one-off documents)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise Invalid(f"The signing key must be an unencrypted PKCS8 PEM Ed25519 private key; it cannot be read ({exc}).") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise Invalid(f"The signing key must be an Ed25519 key; got {type(key).__name__} instead.")
        return cls(key)

    @classmethod
    def load_or_create(cls, directory: Path) -> SigningKey:
        """The key in `directory`/filing-ed25519.pem, created (mode 0600) on first use.

        The new key is written to a temporary file and then hard-linked into place: unlike a
        rename, a link fails when the name already exists, so when two processes start at once
        the loser keeps the winner's key instead of silently replacing it."""
        path = Path(directory) / KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _publish_new_key(path)
        return cls.from_pem(path.read_bytes())

    def private_key_pem(self) -> bytes:
        return self._private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def public_key_pem(self) -> bytes:
        return self._private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)


def _publish_new_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o600)  # mkstemp already uses 0600; say so rather than rely on it
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race: its key is the key
        except OSError:
            # A file system without hard links: fall back to a rename, still never half-written.
            if not path.exists():
                os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def sign_document(key: SigningKey, payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` signed by `key`. The payload is copied through JSON, so the document holds
    exactly what a verifier will read back from its JSON file."""
    body = canonical_json(dict(payload))
    signature = base64.b64encode(key.sign(body)).decode("ascii")
    return {"payload": json.loads(body), "signature": {"algorithm": ALGORITHM, "key_id": key.key_id, "value": signature}}


def verify_document(document: Any, public_key_pem: bytes | str) -> bool:
    """Whether `document` is a well-formed signed document whose payload `public_key_pem` signed."""
    return _signature_problem(document, load_public_key(public_key_pem)) is None


def _signature_problem(document: Any, public_key: Ed25519PublicKey) -> str | None:
    """Why `document` does not verify under `public_key`, or None when it does."""
    if not isinstance(document, Mapping) or not isinstance(document.get("payload"), Mapping) or not isinstance(document.get("signature"), Mapping):
        return "it is not a signed document (it needs a 'payload' and a 'signature')"
    signature = document["signature"]
    if signature.get("algorithm") != ALGORITHM:
        return f"its signature algorithm is {signature.get('algorithm')!r}, not {ALGORITHM!r}"
    if signature.get("key_id") != key_id_of(public_key):
        return "it was signed by another key"
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
        public_key.verify(value, canonical_json(document["payload"]))
    except (InvalidSignature, binascii.Error, ValueError, Invalid):
        return "its signature does not match its content"
    return None


@dataclass(frozen=True)
class Verdict:
    status: CertificateStatus
    message: str
    revoked_at: str | None = None
    synced_at: str | None = None  # the issued_at of the revocation list the verdict relied on


def check_certificate(document: Any, public_key_pem: bytes | str, revocations: Mapping[str, Any] | None) -> Verdict:
    """What an offline verifier can say about a certificate, given the published public key and
    the last revocation list it synced (None: never synced)."""
    public_key = load_public_key(public_key_pem)
    key_id = key_id_of(public_key)
    signature = document.get("signature") if isinstance(document, Mapping) else None
    if isinstance(signature, Mapping) and isinstance(signature.get("key_id"), str) and signature["key_id"] != key_id:
        return Verdict("unknown-key", f"The certificate was signed by key {signature['key_id']}, not by the given public key {key_id}.")
    problem = _signature_problem(document, public_key)
    if problem is not None:
        return Verdict("tampered", f"The certificate is not authentic: {problem}.")
    filing_number = document["payload"].get("filing_number")
    if not isinstance(filing_number, str) or not filing_number:
        return Verdict("tampered", "The document is signed but is not a filing certificate: it has no filing_number.")

    revocations_problem = None
    if revocations is not None:
        revocations_problem = _signature_problem(revocations, public_key)
        if revocations_problem is None and revocations["payload"].get("kind") != REVOCATION_LIST_KIND:
            revocations_problem = "it is not a revocation list"
    if revocations is None or revocations_problem is not None:
        note = "" if revocations is None else f"the revocation list is tampered ({revocations_problem}) and was ignored: "
        return Verdict("valid", f"Certificate {filing_number} is authentic (key {key_id}); {note}no revocation list synced, so whether it is revoked is unknown.")

    synced_at = str(revocations["payload"].get("issued_at"))
    for entry in revocations["payload"].get("entries", []):
        if isinstance(entry, Mapping) and entry.get("filing_number") == filing_number:
            revoked_at = str(entry.get("revoked_at"))
            reason = f" ({entry['reason']})" if entry.get("reason") else ""
            return Verdict("revoked", f"Certificate {filing_number} was revoked at {revoked_at}{reason}, as of last sync {synced_at}.", revoked_at, synced_at)
    return Verdict("valid", f"Certificate {filing_number} is authentic and not revoked as of last sync {synced_at}.", None, synced_at)


def revocation_list(key: SigningKey, entries: Iterable[Mapping[str, Any]], issued_at: datetime | str) -> dict[str, Any]:
    """A signed list of revoked filings ({filing_number, revoked_at, reason}), ordered by number."""
    rows = []
    for entry in entries:
        if not isinstance(entry.get("filing_number"), str) or not entry["filing_number"]:
            raise Invalid(f"Each revocation entry must have a 'filing_number'; got {dict(entry)!r}.")
        rows.append({"filing_number": entry["filing_number"], "revoked_at": _iso(entry.get("revoked_at")), "reason": str(entry.get("reason") or "")})
    rows.sort(key=lambda row: row["filing_number"])
    return sign_document(key, {"kind": REVOCATION_LIST_KIND, "issued_at": _iso(issued_at), "entries": rows})


def _iso(moment: Any) -> str | None:
    if moment is None:
        return None
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)


# --- the printable certificate ----------------------------------------------------------------------

# Where each field is found in a certificate's payload; the first present wins.
_SHOWN_FIELDS = {
    "Model": ("model_name", "model.name", "model", "model_id"),
    "Version": ("version_number", "version.number", "version", "version_id"),
    "Organisation": ("org_name", "org.name", "provider", "org", "org_id"),
    "Risk level": ("risk_level_en", "grade.level_en", "risk_level", "grade.level", "level"),
    "Issued": ("issued_at", "approved_at", "issued"),
}
_LEVEL_EN = {"低": "low", "中": "medium", "高": "high"}


def certificate_pdf(document: Mapping[str, Any]) -> bytes:
    """A one-page A4 certificate. Text is ASCII (no CJK font is assumed): Chinese values are
    written in pinyin. The JSON document, not this page, is what verification checks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.patches import Rectangle

    payload = document.get("payload") or {}
    signature = document.get("signature") or {}
    shown, used = _certificate_fields(payload)

    figure = plt.figure(figsize=(8.27, 11.69))
    try:
        figure.add_artist(Rectangle((0.05, 0.025), 0.9, 0.95, transform=figure.transFigure, fill=False, linewidth=1.5))
        y = _Lines(figure)
        y.text("AI Model Filing Certificate", size=22, weight="bold", center=True)
        y.text("Algorithm filing (bei'an) - issued by the aicommons operator", size=11, center=True, gap=0.05)
        y.text(f"Filing number:  {_ascii(payload.get('filing_number', '-'))}", size=16, weight="bold", center=True, gap=0.05)
        for label, value in shown:
            y.pair(label, value)
        details = _details(payload, used | {"filing_number"})
        if details:
            y.skip(0.015)
            y.text("Details", size=12, weight="bold")
            for label, value in details:
                y.pair(label, value, size=9, step=0.02)
        y.skip(0.02)
        y.text("Signature", size=12, weight="bold")
        y.pair("Algorithm", _ascii(signature.get("algorithm", "-")), size=9, step=0.02)
        y.pair("Key id", _ascii(signature.get("key_id", "-")), size=9, step=0.02, family="monospace")  # no ligatures in hex
        for line in textwrap.wrap(_ascii(signature.get("value", "-")), 64) or ["-"]:
            y.text(line, size=9, family="monospace", step=0.018)
        figure.text(
            0.5, 0.04,
            "Verify offline with `aicommons filing verify` on the signed JSON certificate and the operator's published public key; this page is a copy.",
            ha="center", size=7, wrap=True, parse_math=False,
        )
        buffer = io.BytesIO()
        # No creation date: the same certificate always gives the same bytes.
        with PdfPages(buffer, metadata={"Title": f"Filing certificate {_ascii(payload.get('filing_number', ''))}", "CreationDate": None}) as pdf:
            pdf.savefig(figure)
    finally:
        plt.close(figure)
    return buffer.getvalue()


class _Lines:
    """Writes lines down a figure from the top."""

    def __init__(self, figure: Any):
        self.figure = figure
        self.y = 0.93

    def text(self, text: str, *, size: float = 11, weight: str = "normal", family: str = "sans-serif", center: bool = False, gap: float = 0.0, step: float | None = None) -> None:
        x, ha = (0.5, "center") if center else (0.1, "left")
        self.figure.text(x, self.y, text, ha=ha, va="top", size=size, weight=weight, family=family, parse_math=False)
        self.y -= (step if step is not None else size / 400) + gap

    def pair(self, label: str, value: str, *, size: float = 12, step: float = 0.035, family: str = "sans-serif") -> None:
        self.figure.text(0.1, self.y, f"{label}:", ha="left", va="top", size=size, weight="bold", parse_math=False)
        self.figure.text(0.32, self.y, value, ha="left", va="top", size=size, family=family, parse_math=False)
        self.y -= step

    def skip(self, space: float) -> None:
        self.y -= space


def _certificate_fields(payload: Mapping[str, Any]) -> tuple[list[tuple[str, str]], set[str]]:
    shown, used = [], set()
    for label, paths in _SHOWN_FIELDS.items():
        path = next((p for p in paths if _lookup(payload, p) not in (None, "", {})), None)
        value = _lookup(payload, path) if path else None
        if path:
            used.add(path.split(".")[0])
        if isinstance(value, Mapping):  # e.g. "model": {"name": ..., "id": ...} without a name
            value = value.get("name") or value.get("id")
        text = "-" if value is None else str(value)
        if label == "Risk level":
            text = _LEVEL_EN.get(text, text)
        if label == "Issued" and re.match(r"^\d{4}-\d{2}-\d{2}", text):
            text = text[:10]
        shown.append((label, _ascii(text)))
    return shown, used


def _details(payload: Mapping[str, Any], used: set[str]) -> list[tuple[str, str]]:
    """Other top-level fields worth printing: scalars, and scalars one level inside a mapping."""
    rows = []
    for key in sorted(payload):
        if key in used:
            continue
        value = payload[key]
        items = [(f"{key}.{k}", v) for k, v in sorted(value.items())] if isinstance(value, Mapping) else [(key, value)]
        for label, item in items:
            if isinstance(item, (str, int, float, bool)) and str(item):
                rows.append((_ascii(label.replace("_", " ")), _ascii(str(item))[:80]))
    return rows[:18]


def _lookup(payload: Mapping[str, Any], path: str) -> Any:
    node: Any = payload
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _ascii(text: Any) -> str:
    """Text as ASCII: Chinese in pinyin (浙江 → "zhe jiang"), full-width forms folded, the rest dropped."""
    from pypinyin import lazy_pinyin

    text = str(text)
    if not text.isascii():
        text = " ".join(part.strip() for part in lazy_pinyin(text) if part.strip())
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = text.encode("ascii", "replace").decode("ascii")
    return text
