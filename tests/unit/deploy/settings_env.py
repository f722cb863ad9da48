"""The environment variables a settings class reads, and the settings a deployment must set, for checking
deploy files against the code."""

from __future__ import annotations

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

# A default that only works on a developer's machine: a loopback address, or a development secret.
LOCAL_ONLY = ("127.0.0.1", "localhost", "change-me")
# Settings without any default that a service needs for a feature to work at all (not an optional channel
# such as SMTP or SMS): the workflow posts sweep findings and registry corrections to intake with these keys.
NEEDED_WITHOUT_DEFAULT = {"intake_grid_api_key", "intake_registry_api_key"}


def env_names(settings: type[BaseSettings]) -> set[str]:
    """`SAFETYNET_<FIELD>` for every field, or the field's alias choices where it declares them."""
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        names |= field_env_names(settings, name, field)
    return names


def field_env_names(settings: type[BaseSettings], name: str, field: FieldInfo) -> set[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return {choice for choice in alias.choices if isinstance(choice, str)}
    return {f"{settings.model_config.get('env_prefix', '')}{name}".upper()}


def required_settings(settings: type[BaseSettings]) -> dict[str, set[str]]:
    """Field name → its environment names, for every setting a deployment must set: its default points at
    this machine or is a development secret, or it has none and a feature needs it."""
    required = {}
    for name, field in settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        local_only = isinstance(default, str) and any(marker in default for marker in LOCAL_ONLY)
        if local_only or name in NEEDED_WITHOUT_DEFAULT:
            required[name] = field_env_names(settings, name, field)
    return required
