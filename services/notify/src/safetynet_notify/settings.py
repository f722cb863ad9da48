"""Notify service settings (environment, fail fast)."""

from safetynet_core.settings import CoreSettings


class Settings(CoreSettings):
    service_name: str = "notify"
