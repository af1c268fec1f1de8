"""`ocpp2lite conformance --run` reporting: junit XML -> per certification test case, per interpreter."""
import json
import os

from ocpp2lite import conformance

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
 <testcase classname="tests.test_e2e" name="test_B01_boot_TC_B_01_CS[cpython]" time="3.1"/>
 <testcase classname="tests.test_e2e" name="test_B01_boot_TC_B_01_CS[micropython]" time="4.2"/>
 <testcase classname="tests.unit.test_station" name="test_B02_pending_TC_B_02_CS" time="0.1"/>
 <testcase classname="tests.test_unit_micropython" name="test_on_micropython[test_station-test_B02_pending_TC_B_02_CS]" time="0.1">
  <failure message="boom">trace</failure></testcase>
 <testcase classname="tests.test_e2e" name="test_E02_TC_E_03_CS_TC_E_37_CS[cpython]" time="1"><skipped message="x"/></testcase>
 <testcase classname="tests.test_other" name="test_without_id" time="1"/>
</testsuite></testsuites>
"""
ROWS = [{"id": "TC_B_01_CS", "name": "Cold Boot", "mc": "M", "lite": "Y"},
        {"id": "TC_B_02_CS", "name": "Pending", "mc": "M", "lite": "Y"},
        {"id": "TC_E_03_CS", "name": "Local start", "mc": "M", "lite": "Y"},
        {"id": "TC_C_08_CS", "name": "Cache", "mc": "C", "lite": "N (no authorization cache)"}]


def test_junit_to_per_test_case_report(tmp_path):
    p = tmp_path / "junit.xml"
    p.write_text(JUNIT)
    res = conformance.parse_junit(str(p))
    assert ("TC_E_37_CS", "cpython", "skipped", "tests.test_e2e::test_E02_TC_E_03_CS_TC_E_37_CS[cpython]") in res
    rep = {r["id"]: r for r in conformance.run_report(res, ROWS)}
    assert (rep["TC_B_01_CS"]["cpython"], rep["TC_B_01_CS"]["micropython"]) == ("passed", "passed")
    assert (rep["TC_B_02_CS"]["cpython"], rep["TC_B_02_CS"]["micropython"]) == ("passed", "FAILED")
    assert (rep["TC_E_03_CS"]["cpython"], rep["TC_E_03_CS"]["micropython"]) == ("skipped", "no test")
    assert rep["TC_C_08_CS"]["evidence"] == [] and rep["TC_C_08_CS"]["status"] == "n/a"
    assert rep["TC_E_03_CS"]["status"] == "skipped"   # its only test did not run
    md = conformance.render_md(list(rep.values()), "now", "ocpp2lite conformance --run")
    assert "| TC_B_02_CS | Pending | M | FAILED | passed | FAILED |" in md
    assert "failed 1 (TC_B_02_CS)" in md
    assert "| TC_C_08_CS | Cache | C | n/a | no test | no test | N (no authorization cache) |" in md


def test_from_junit_command_writes_md_and_json(tmp_path):
    p = tmp_path / "junit.xml"
    p.write_text(JUNIT)
    out = tmp_path / "out" / "conformance.md"
    rc = conformance.main(["--from-junit", str(p), "--out", str(out)])
    assert rc == 1   # TC_B_02_CS failed on MicroPython
    doc = json.loads((tmp_path / "out" / "conformance.json").read_text())
    ids = [r["id"] for r in doc["test_cases"]]
    assert "TC_B_01_CS" in ids and len(ids) == len(conformance.read_cases()[0])
    assert os.path.exists(out)
