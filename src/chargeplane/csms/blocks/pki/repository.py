"""All SQL of the PKI block. Every write is a unit of work of the group committer (the OCPP path's one write
path); the API's and the jobs' writes take it too, so that one station's rows are written in one order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.pki.tables import (
    pki_certificates,
    pki_installed,
    pki_operations,
    pki_sign_requests,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute
from chargeplane.pki.hashes import HashData

ISSUED, REVOKED = "issued", "revoked"


@dataclass(frozen=True, slots=True)
class NewCertificate:
    kind: str
    serial: str
    station_id: str | None
    certificate_type: str
    subject: str
    not_before: datetime
    not_after: datetime
    pem: str
    source: str


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    id: int
    kind: str
    serial: str
    station_key: str | None
    certificate_type: str
    subject: str
    not_before: datetime
    not_after: datetime
    status: str
    revoked_at: datetime | None
    revocation_reason: str | None
    source: str
    delivery_status: str | None
    renewal_requested_at: datetime | None
    issued_at: datetime
    pem: str


@dataclass(frozen=True, slots=True)
class SignRequestRecord:
    id: int
    station_key: str
    certificate_type: str
    request_id: int | None
    status: str
    reason: str | None
    certificate_id: int | None
    outcome: str | None
    received_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class InstalledRecord:
    certificate_type: str | None
    hash_data: HashData
    reported_at: datetime
    child_of: str | None = None  # a chain's sub-CA: the serial of the chain's leaf


@dataclass(frozen=True, slots=True)
class Reported:
    """One certificate of a GetInstalledCertificateIds answer, with its chain's sub-CAs (2.x, M03.FR.05)."""

    certificate_type: str | None
    hash_data: HashData
    children: tuple[HashData, ...] = ()


@dataclass(frozen=True, slots=True)
class OperationRecord:
    action: str
    detail: str | None
    status: str | None
    sent_at: datetime


_CERT_FIELDS = list(CertificateRecord.__dataclass_fields__)
_CERT_COLUMNS = [pki_certificates.c[name] for name in _CERT_FIELDS]
_SIGN_FIELDS = list(SignRequestRecord.__dataclass_fields__)
_SIGN_COLUMNS = [pki_sign_requests.c[name] for name in _SIGN_FIELDS]


def _certificate(row: sa.Row[Any]) -> CertificateRecord:
    return CertificateRecord(**{name: row._mapping[name] for name in _CERT_FIELDS})


def _installed(row: sa.Row[Any]) -> InstalledRecord:
    m = row._mapping
    data = HashData(m["hash_algorithm"], m["issuer_name_hash"], m["issuer_key_hash"], m["serial_number"])
    return InstalledRecord(m["certificate_type"], data, m["reported_at"], m["child_of"])


class PkiRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    # -- signing requests and issued certificates -----------------------------------------------------------

    async def add_sign_request(
        self,
        station_id: str,
        certificate_type: str,
        request_id: int | None,
        status: str,
        reason: str | None,
        now: datetime,
        csr: str | None = None,
    ) -> int:
        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(pki_sign_requests).values(
                    csr=csr,
                    station_key=station_id.casefold(),
                    certificate_type=certificate_type,
                    request_id=request_id,
                    status=status,
                    reason=None if reason is None else reason[:255],
                    received_at=now,
                    completed_at=None if status == "Accepted" else now,
                )
            )
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

        return await self.committer.run(unit)

    async def sign_outcome(
        self, sign_id: int, outcome: str, reason: str | None, certificate_id: int | None, now: datetime
    ) -> None:
        values: dict[str, Any] = {"outcome": outcome, "completed_at": now, "csr": None}
        if reason is not None:
            values["reason"] = reason[:255]
        if certificate_id is not None:
            values["certificate_id"] = certificate_id
        c = pki_sign_requests.c
        await self.committer.run(
            execute(sa.update(pki_sign_requests).where(c.id == sign_id).values(**values))
        )

    async def pending_sign_requests(self) -> list[tuple[SignRequestRecord, str]]:
        """Accepted CSRs not yet signed (a restart came between the answer and the signing), oldest first."""
        c = pki_sign_requests.c
        query = (
            sa.select(*_SIGN_COLUMNS, c.csr)
            .where(c.status == "Accepted", c.outcome.is_(None), c.csr.is_not(None))
            .order_by(c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [(SignRequestRecord(**{n: r._mapping[n] for n in _SIGN_FIELDS}), r.csr) for r in rows]

    async def add_certificate(self, new: NewCertificate, now: datetime) -> int:
        def unit(connection: sa.Connection) -> int:
            result = connection.execute(
                sa.insert(pki_certificates).values(
                    kind=new.kind,
                    serial=new.serial,
                    station_key=None if new.station_id is None else new.station_id.casefold(),
                    certificate_type=new.certificate_type,
                    subject=new.subject[:255],
                    not_before=new.not_before,
                    not_after=new.not_after,
                    status=ISSUED,
                    pem=new.pem,
                    source=new.source,
                    issued_at=now,
                )
            )
            assert result.inserted_primary_key is not None
            return int(result.inserted_primary_key[0])

        return await self.committer.run(unit)

    async def delivered(self, certificate_id: int, status: str) -> None:
        c = pki_certificates.c
        await self.committer.run(
            execute(sa.update(pki_certificates).where(c.id == certificate_id).values(delivery_status=status))
        )

    async def certificates(
        self, station_id: str | None, offset: int, limit: int
    ) -> tuple[list[CertificateRecord], int]:
        c = pki_certificates.c
        where = sa.true() if station_id is None else c.station_key == station_id.casefold()
        query = sa.select(*_CERT_COLUMNS).where(where).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(pki_certificates).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [_certificate(r) for r in rows], total

    async def certificate(self, kind: str, serial: str) -> CertificateRecord | None:
        c = pki_certificates.c
        query = sa.select(*_CERT_COLUMNS).where(c.kind == kind, c.serial == serial)
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _certificate(row)

    async def revoke(self, kind: str, serial: str, reason: str, now: datetime) -> CertificateRecord | None:
        """Mark the certificate revoked (once: a second revocation keeps the first's time and reason)."""
        c = pki_certificates.c

        def unit(connection: sa.Connection) -> CertificateRecord | None:
            connection.execute(
                sa.update(pki_certificates)
                .where(c.kind == kind, c.serial == serial, c.status == ISSUED)
                .values(status=REVOKED, revoked_at=now, revocation_reason=reason)
            )
            row = connection.execute(
                sa.select(*_CERT_COLUMNS).where(c.kind == kind, c.serial == serial)
            ).first()
            return None if row is None else _certificate(row)

        return await self.committer.run(unit)

    async def revoked(self, kind: str) -> list[CertificateRecord]:
        c = pki_certificates.c
        query = sa.select(*_CERT_COLUMNS).where(c.kind == kind, c.status == REVOKED).order_by(c.id)
        async with self.engine.connect() as connection:
            return [_certificate(r) for r in (await connection.execute(query)).all()]

    async def due_for_renewal(self, before: datetime) -> list[CertificateRecord]:
        """Issued, unrevoked certificates of stations that expire before ``before``, not yet renewed (no
        renewal asked, no newer certificate of the station and type)."""
        c = pki_certificates.c
        newer = pki_certificates.alias("newer")
        query = (
            sa.select(*_CERT_COLUMNS)
            .where(
                c.status == ISSUED,
                c.station_key.is_not(None),
                c.renewal_requested_at.is_(None),
                c.not_after <= before,
                ~sa.exists().where(
                    newer.c.station_key == c.station_key,
                    newer.c.certificate_type == c.certificate_type,
                    newer.c.id > c.id,
                    newer.c.status == ISSUED,
                ),
            )
            .order_by(c.not_after)
        )
        async with self.engine.connect() as connection:
            return [_certificate(r) for r in (await connection.execute(query)).all()]

    async def renewal_requested(self, certificate_id: int, now: datetime) -> None:
        c = pki_certificates.c
        await self.committer.run(
            execute(
                sa.update(pki_certificates).where(c.id == certificate_id).values(renewal_requested_at=now)
            )
        )

    async def sign_requests(
        self, station_id: str, offset: int, limit: int
    ) -> tuple[list[SignRequestRecord], int]:
        c = pki_sign_requests.c
        where = c.station_key == station_id.casefold()
        query = sa.select(*_SIGN_COLUMNS).where(where).order_by(c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(pki_sign_requests).where(where)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [SignRequestRecord(**{n: r._mapping[n] for n in _SIGN_FIELDS}) for r in rows], total

    # -- what stations hold (M03-M05) -----------------------------------------------------------------------

    async def replace_installed(
        self,
        station_id: str,
        types: list[str] | None,
        reported: list[Reported],
        now: datetime,
    ) -> None:
        """A GetInstalledCertificateIds answer: the station holds exactly ``reported`` of ``types`` (None: of
        every type)."""
        station_key = station_id.casefold()
        i = pki_installed.c

        def unit(connection: sa.Connection) -> None:
            where = [i.station_key == station_key]
            if types is not None:
                where.append(i.certificate_type.in_(types))
            connection.execute(sa.delete(pki_installed).where(*where))
            for item in reported:
                values = _installed_values(station_key, item.certificate_type, item.hash_data, now)
                connection.execute(sa.insert(pki_installed).values(**values))
                for child in item.children:
                    child_values = _installed_values(station_key, item.certificate_type, child, now)
                    child_values["child_of"] = values["serial_number"]
                    connection.execute(sa.insert(pki_installed).values(**child_values))

        await self.committer.run(unit)

    async def add_installed(
        self, station_id: str, certificate_type: str, data: HashData, now: datetime
    ) -> None:
        station_key = station_id.casefold()
        i = pki_installed.c

        def unit(connection: sa.Connection) -> None:
            connection.execute(
                sa.delete(pki_installed).where(
                    i.station_key == station_key,
                    i.hash_algorithm == data.hash_algorithm,
                    i.issuer_name_hash == data.issuer_name_hash,
                    i.issuer_key_hash == data.issuer_key_hash,
                    i.serial_number == data.serial_number,
                )
            )
            connection.execute(
                sa.insert(pki_installed).values(**_installed_values(station_key, certificate_type, data, now))
            )

        await self.committer.run(unit)

    async def remove_installed(self, station_id: str, data: HashData) -> None:
        i = pki_installed.c
        await self.committer.run(
            execute(
                sa.delete(pki_installed).where(
                    i.station_key == station_id.casefold(),
                    i.hash_algorithm == data.hash_algorithm,
                    i.issuer_name_hash == data.issuer_name_hash,
                    i.issuer_key_hash == data.issuer_key_hash,
                    i.serial_number == data.serial_number,
                )
            )
        )

    async def installed(self, station_id: str) -> list[InstalledRecord]:
        i = pki_installed.c
        query = sa.select(pki_installed).where(i.station_key == station_id.casefold()).order_by(i.id)
        async with self.engine.connect() as connection:
            return [_installed(r) for r in (await connection.execute(query)).all()]

    async def add_operation(
        self, station_id: str, action: str, detail: str | None, status: str | None, now: datetime
    ) -> None:
        await self.committer.run(
            execute(
                sa.insert(pki_operations).values(
                    station_key=station_id.casefold(),
                    action=action,
                    detail=None if detail is None else detail[:255],
                    status=status,
                    sent_at=now,
                )
            )
        )

    async def operations(self, station_id: str, limit: int) -> list[OperationRecord]:
        o = pki_operations.c
        query = (
            sa.select(o.action, o.detail, o.status, o.sent_at)
            .where(o.station_key == station_id.casefold())
            .order_by(o.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return [OperationRecord(**r._mapping) for r in (await connection.execute(query)).all()]


def _installed_values(
    station_key: str, certificate_type: str | None, data: HashData, now: datetime
) -> dict[str, Any]:
    data = data.normalised()
    return {
        "station_key": station_key,
        "certificate_type": certificate_type,
        "hash_algorithm": data.hash_algorithm,
        "issuer_name_hash": data.issuer_name_hash,
        "issuer_key_hash": data.issuer_key_hash,
        "serial_number": data.serial_number,
        "reported_at": now,
    }
