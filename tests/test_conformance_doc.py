"""docs/conformance.md: generated from test results on both interpreters, every Core test case,
current with the tests."""
from ocpp2lite import conformance


def test_conformance_checklist_lists_all_222_core_test_cases_and_is_current():
    rows, _ = conformance.read_cases()
    assert len(rows) == 222
    text = open(conformance.OUT, encoding="utf-8").read()
    for r in rows:
        assert "| %s |" % r["id"] in text
    assert conformance.check() == []


def test_report_from_junit_per_interpreter_and_check_sees_a_stale_report(tmp_path):
    """A junit XML with one unit scenario run natively and on MicroPython, and one e2e test failing
    on MicroPython: the row says passed/FAILED per interpreter, and --check flags a report whose
    evidence differs from the tests carrying the id."""
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.unit.test_station" name="test_B01_x_TC_B_01_CS"/>'
        '<testcase classname="tests.test_unit_micropython" '
        'name="test_on_micropython[test_station-test_B01_x_TC_B_01_CS]"/>'
        '<testcase classname="tests.test_e2e" name="test_e2e_TC_B_02_CS[cpython]"/>'
        '<testcase classname="tests.test_e2e" name="test_e2e_TC_B_02_CS[micropython]">'
        '<failure message="x"/></testcase>'
        '</testsuite></testsuites>')
    rep = {r["id"]: r for r in conformance.run_report(conformance.parse_junit(str(junit)))}
    assert (rep["TC_B_01_CS"]["cpython"], rep["TC_B_01_CS"]["micropython"]) == ("passed", "passed")
    assert rep["TC_B_01_CS"]["evidence"] == [{"test": "tests/unit/test_station.py::test_B01_x_TC_B_01_CS",
                                              "outcomes": {"cpython": "passed", "micropython": "passed"}}]
    assert rep["TC_B_02_CS"]["status"] == "FAILED" and rep["TC_B_02_CS"]["cpython"] == "passed"
    out = tmp_path / "conformance.md"
    assert conformance.main(["--from-junit", str(junit), "--out", str(out)]) == 1   # a failure
    problems = conformance.check(str(out))
    assert any(p.startswith("TC_B_02_CS: FAILED") for p in problems)
    assert any(p.startswith("TC_B_01_CS: tests now") for p in problems)   # the real tests differ


def test_every_certification_id_in_a_test_name_has_the_exact_form():
    """A certification test case id in a test name counts only in the exact form TC_X_NN_CS
    (e.g. TC_E_39_CS); a near miss (TC_B_07, TC_b_7_CS) would silently cover nothing."""
    import os
    import re
    bad = []
    for d, _, files in os.walk(os.path.join(conformance.ROOT, "tests")):
        for f in files:
            if not (f.startswith("test_") and f.endswith(".py")):
                continue
            for name in re.findall(r"^\s*(?:async )?def (test_\w+)\(", open(os.path.join(d, f)).read(),
                                   re.M):
                rest = re.sub(r"TC_[A-Z]_\d\d+_CS", "", name)
                if "TC_" in rest:
                    bad.append("%s::%s" % (f, name))
    assert bad == [], bad
