"""The environment variables a settings class reads, for checking deploy files against the code."""

from __future__ import annotations

from pydantic import AliasChoices
from pydantic_settings import BaseSettings


def env_names(settings: type[BaseSettings]) -> set[str]:
    """`SAFETYNET_<FIELD>` for every field, or the field's alias choices where it declares them."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(f"{prefix}{name}".upper())
    return names
