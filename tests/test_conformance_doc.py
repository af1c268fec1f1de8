"""docs/conformance.md lists every Core test case and is current with the test names."""
from ocpp2lite import conformance


def test_conformance_checklist_lists_all_222_core_test_cases_and_is_current():
    rows, _ = conformance.read_cases()
    assert len(rows) == 222
    text = open(conformance.OUT, encoding="utf-8").read()
    for r in rows:
        assert "| %s |" % r["id"] in text
    assert conformance.main(["--check"]) == 0


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
