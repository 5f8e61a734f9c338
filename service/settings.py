"""The service's settings, passed from ``dom serve`` to every worker process through the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

PREFIX = "DOM_SERVICE_"


@dataclass(frozen=True)
class Settings:
    """Database URL, key hashes, reservation time, body size limit, expiry sweep interval, log level."""

    db_url: str = "sqlite:///dom.db"
    api_keys: str = ""  # ApiKeys.to_env(): hashes only
    reservation_ttl: timedelta = timedelta(hours=1)
    max_body_bytes: int = 1_000_000
    expiry_interval_s: float = 30.0
    log_level: str = "INFO"
    pool_size: int = 10

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables."""
        return {
            f"{PREFIX}DB": self.db_url,
            f"{PREFIX}KEYS": self.api_keys,
            f"{PREFIX}RESERVATION_MINUTES": str(self.reservation_ttl.total_seconds() / 60),
            f"{PREFIX}MAX_BODY_BYTES": str(self.max_body_bytes),
            f"{PREFIX}EXPIRY_INTERVAL_S": str(self.expiry_interval_s),
            f"{PREFIX}LOG_LEVEL": self.log_level,
            f"{PREFIX}POOL_SIZE": str(self.pool_size),
        }

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from the environment (what ``to_env`` wrote)."""
        env = os.environ
        default = cls()
        return cls(
            env.get(f"{PREFIX}DB", default.db_url),
            env.get(f"{PREFIX}KEYS", ""),
            timedelta(minutes=float(env.get(f"{PREFIX}RESERVATION_MINUTES", "60"))),
            int(env.get(f"{PREFIX}MAX_BODY_BYTES", str(default.max_body_bytes))),
            float(env.get(f"{PREFIX}EXPIRY_INTERVAL_S", str(default.expiry_interval_s))),
            env.get(f"{PREFIX}LOG_LEVEL", default.log_level),
            int(env.get(f"{PREFIX}POOL_SIZE", str(default.pool_size))),
        )
