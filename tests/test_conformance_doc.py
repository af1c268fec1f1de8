"""docs/conformance.md lists every Core test case and is current with the test names."""
from ocpp2lite import conformance


def test_conformance_checklist_lists_all_222_core_test_cases_and_is_current():
    rows, _ = conformance.read_cases()
    assert len(rows) == 222
    text = open(conformance.OUT, encoding="utf-8").read()
    for r in rows:
        assert "| %s |" % r["id"] in text
    assert conformance.main(["--check"]) == 0
