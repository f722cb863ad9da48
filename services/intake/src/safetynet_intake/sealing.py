"""Full ID numbers kept sealed for the audited reveal (`reveal.py`): AES-256-GCM under a key only intake
holds (`SAFETYNET_ID_SEALING_KEY`), each number bound to its household and member, written in the same
transaction as the registry record it came in."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from safetynet_intake.settings import Settings
from safetynet_intake.validation import HouseholdRecordIn

NONCE_BYTES = 12


class Sealer:
    """Seals and opens full ID numbers; `key_id` names the key (a changed key is told apart from tampering)."""

    def __init__(self, settings: Settings) -> None:
        key = hashlib.sha256(settings.id_sealing_key.get_secret_value().encode()).digest()
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"key id\x00" + key).hexdigest()[:16]

    @staticmethod
    def _bound_to(household_id: str, member_id: str) -> bytes:
        return f"{household_id}\x00{member_id}".encode()

    def seal(self, household_id: str, member_id: str, id_number: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, id_number.encode(), self._bound_to(household_id, member_id))

    def open(self, household_id: str, member_id: str, sealed: bytes) -> str:
        nonce, box = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        return self._aead.decrypt(nonce, box, self._bound_to(household_id, member_id)).decode()


async def keep_id_numbers(
    conn: asyncpg.Connection, sealer: Sealer, records: Sequence[HouseholdRecordIn], changed: set[str]
) -> None:
    """Keep the sealed ID numbers of written records (inside the registry write's transaction): those of
    changed households replace what was kept; unchanged ones fill in what is missing or was sealed under
    another key."""
    if changed:
        await conn.execute("delete from member_id_numbers where household_id = any($1::text[])", sorted(changed))
    columns: tuple[list[str], list[str], list[bytes]] = ([], [], [])
    for record in records:
        for m in record.members:
            columns[0].append(record.household_id)
            columns[1].append(m.member_id)
            columns[2].append(sealer.seal(record.household_id, m.member_id, m.id_number.upper()))
    await conn.execute(_KEEP, *columns, sealer.key_id)


_KEEP = """
insert into member_id_numbers (household_id, member_id, sealed, key_id)
select h, m, s, $4 from unnest($1::text[], $2::text[], $3::bytea[]) as kept(h, m, s)
on conflict (household_id, member_id) do update set sealed = excluded.sealed, key_id = excluded.key_id
where member_id_numbers.key_id <> excluded.key_id
"""
