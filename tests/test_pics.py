"""`ocpp2lite pics`: the PICS is generated (board, device model, actions probed on a running station),
docs/pics.md is what the generator writes today, and it agrees with docs/conformance.md's n/a reasons."""
import json

import pytest

from ocpp2lite import pics


@pytest.fixture(scope="module")
def probed():
    import asyncio
    return asyncio.run(pics.probe())


def test_docs_pics_md_is_regenerated(probed):
    text = pics.render_md(pics.build("desktop", probed))
    with open(pics.OUT, encoding="utf-8") as f:
        assert f.read() == text, "docs/pics.md is out of date: run ocpp2lite pics --out docs/pics.md"


def test_probe_reads_the_implemented_actions_from_the_stack(probed):
    ans = probed["answered"]
    assert ans["GetVariables"] != "NotImplemented" and ans["RequestStartTransaction"] != "NotImplemented"
    assert ans["GetReport"] == "NotImplemented" and ans["SendLocalList"] == "NotImplemented"
    assert "BootNotification" not in ans          # a Charging Station -> CSMS action is not probed
    assert {"BootNotification", "StatusNotification", "TransactionEvent", "Authorize"} <= set(probed["sent"])
    assert probed["violations"] == []


def test_pics_agrees_with_conformance_na_reasons(probed):
    p = pics.build("desktop", probed)
    rows = pics.consistency(p)
    assert len(rows) > 20
    assert [r for r in rows if r[3] is not None] == []


def test_other_board_and_json_format(probed):
    p = pics.build("esp32_devkit", probed)
    doc = json.loads(pics.render_json(p))
    hw = {r["id"]: r["value"] for r in doc["hardware"]}
    assert hw["HFS-7"] == "Yes" and hw["HFS-5"] == "No"          # the ESP32 board is 3-phase
    gen = {r["item"]: r["value"] for r in doc["general"]}
    assert gen["Type / model"] == "LiteESP32"
    opt = {r["id"]: r["value"] for r in doc["optional"]}
    assert opt["C-09.4"] == "Yes" and opt["C-13"] == "No"
    assert "GetVariables" in doc["csms_to_cs"]["implemented"]
