"""The fields that describe a new dataset and a new model alike — name, visibility, licence,
description and tags — as the two creation forms read them: tags typed as one comma-separated
line, and the message beside a field the service's schema refuses (the same words on both forms)."""

from __future__ import annotations

from aicommons.console.locales import Translator


def tags_of(text: str) -> list[str]:
    """Tags typed as a comma-separated list (a Chinese comma counts too)."""
    return [tag.strip() for tag in text.replace("，", ",").split(",") if tag.strip()]


def entry_field_messages(translator: Translator) -> dict[str, str]:
    """What to say beside each shared field the schema refused, keyed by the field's name."""
    _ = translator.gettext
    return {
        "name": _("A name is 1 to 100 characters."),
        "visibility": _("Choose private, shared or public."),
        "licence": _("The licence must be at most 100 characters."),
        "description": _("The description must be at most 10,000 characters."),
        "tags": _(
            "Give at most 30 tags, separated by commas, each at most 50 characters."
        ),
    }
