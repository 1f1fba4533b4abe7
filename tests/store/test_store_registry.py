"""Registry: seeded parameters and HJ 212 codes, devices."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qingshan.store.engine import reading, writing
from qingshan.store.models import AuditEntry, Device
from qingshan.store.registry import ParameterIndex, reference_parameters, upsert_device


def test_hj212_codes_map_to_canonical_parameters_by_site_kind(engine, parameters) -> None:
    """HJ 212—2017 表 B.1/B.2: a34004 PM2.5, w01018 COD; a21026 SO2 depends on the site."""
    with reading(engine) as session:
        index = ParameterIndex(session)
    assert index.match("a34004", "air_station").parameter_id == parameters["pm25"]
    assert index.match("w01018", "source_outlet").parameter_id == parameters["cod"]
    assert index.match("a21026", "air_station").parameter_id == parameters["so2"]
    assert index.match("a21026", "source_outlet").parameter_id == parameters["flue_so2"]
    assert (
        index.match("011", "source_outlet", scheme="hj212-2005-water").parameter_id
        == (parameters["cod"])
    )
    assert index.match("pm25", "noise_point").parameter_id == parameters["pm25"]  # a key
    assert index.match("a99999", "air_station") is None


def test_every_shipped_parameter_is_seeded_once(engine, parameters) -> None:
    keys = [entry["key"] for entry in reference_parameters()]
    assert len(keys) == len(set(keys))
    assert sorted(parameters) == sorted(keys)


def test_devices_are_registered_and_updated_with_audit(engine, sites) -> None:
    with writing(engine, "cli:admin") as session:
        upsert_device(
            session, "010000A8900016F000169DC0", site_id=sites["STACK"], password="123456"
        )
    with writing(engine, "cli:admin") as session:
        upsert_device(
            session,
            "010000A8900016F000169DC0",
            site_id=sites["STACK"],
            password="654321",
            crc_variant="modbus",
        )
    with reading(engine) as session:
        device = session.scalars(select(Device)).one()
        changes = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "devices").order_by(AuditEntry.id)
        ).all()
    assert (device.password, device.crc_variant, device.protocol_version) == (
        "654321",
        "modbus",
        "2017",
    )
    assert [c.action for c in changes] == ["insert", "update"]
    assert changes[1].after == {"password": "***", "crc_variant": "modbus"}
    with pytest.raises(IntegrityError), writing(engine, "cli:admin") as session:
        upsert_device(session, "X1", site_id=sites["STACK"], password="1", crc_variant="crc32")
