"""docs/conformance.md, the Core certification checklist, generated from test RESULTS (desktop only).

Every Charging Station test case of the Core profile (../shared/reference/core-profile-tests.md, or
docs/core-profile-tests.md when the shared folder is not beside the repository) gets a row: its
outcome on CPython and on the MicroPython unix port, taken from pytest's junit XML, and the tests
that carry its id in their names (the evidence, with the interpreters they passed on); a test case
without a test says why (n/a: the Lite applicability reason; not yet: applicable, no test yet).
The unit scenarios of tests/unit run natively on CPython and on MicroPython through
tests/test_unit_micropython.py; the end-to-end scenarios start the station on each interpreter.

    ocpp2lite conformance --run [--out FILE] [--pytest-args "..."]
        # runs the certification-named tests (pytest -k TC_) and writes docs/conformance.md + .json
    ocpp2lite conformance --from-junit FILE [--out FILE]   # the same from an existing junit XML
    ocpp2lite conformance --check
        # exit 1 when docs/conformance.md is older than the tests (a test carrying a test case id is
        # missing from its evidence, or evidence names a test that no longer exists) or shows a failure
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = (os.path.join(ROOT, "..", "shared", "reference", "core-profile-tests.md"),
           os.path.join(ROOT, "docs", "core-profile-tests.md"))
OUT = os.path.join(ROOT, "docs", "conformance.md")


def read_cases():
    for path in SOURCES:
        if os.path.exists(path):
            rows = []
            for line in open(path, encoding="utf-8"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) >= 6 and re.match(r"TC_[A-Z]_\d+_CS$", cells[1]):
                    rows.append({"id": cells[1], "name": cells[2], "uc": cells[3], "mc": cells[4],
                                 "lite": cells[5]})
            return rows, path
    raise SystemExit("core-profile-tests.md not found")


def find_tests():
    found = {}
    for d, _, files in os.walk(os.path.join(ROOT, "tests")):
        for f in sorted(files):
            if not (f.startswith("test_") and f.endswith(".py")):
                continue
            rel = os.path.relpath(os.path.join(d, f), ROOT)
            for m in re.finditer(r"^\s*(?:async )?def (test_\w+)\(", open(os.path.join(d, f)).read(), re.M):
                for tc in re.findall(r"TC_[A-Z]_\d+_CS", m.group(1)):
                    found.setdefault(tc, []).append("%s::%s" % (rel, m.group(1)))
    return found


# ---- the conformance run -----------------------------------------------------------------------
def interpreter_of(classname, name):
    """Which interpreter a junit test case ran the stack on: "micropython" for the [micropython]
    parametrization and tests/test_unit_micropython.py, else "cpython"."""
    if "[micropython" in name or classname.endswith("test_unit_micropython"):
        return "micropython"
    return "cpython"


def parse_junit(path):
    """[(test case id, interpreter, outcome, "classname::name")] from a pytest junit XML file;
    outcome: passed / failed / skipped."""
    import xml.etree.ElementTree as ET
    out = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        name, cls = tc.get("name", ""), tc.get("classname", "")
        ids = sorted(set(re.findall(r"TC_[A-Z]_\d+_CS", name)))
        if not ids:
            continue
        if tc.find("failure") is not None or tc.find("error") is not None:
            outcome = "failed"
        elif tc.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        for i in ids:
            out.append((i, interpreter_of(cls, name), outcome, "%s::%s" % (cls, name)))
    return out


def _verdict(outcomes):
    if not outcomes:
        return "no test"
    if "failed" in outcomes:
        return "FAILED"
    if all(o == "skipped" for o in outcomes):
        return "skipped"
    return "passed"


def test_key(classname, name):
    """The test function a junit test case ran, as "tests/path.py::function" (parameters dropped;
    the MicroPython runs of unit scenarios, ``test_on_micropython[module-function]``, map to the
    unit scenario itself)."""
    m = re.match(r"test_on_micropython\[([^-\]]+)-([^\]]+)\]", name)
    if m and classname.endswith("test_unit_micropython"):
        return "tests/unit/%s.py::%s" % (m.group(1), m.group(2))
    return "%s.py::%s" % (classname.replace(".", "/"), name.split("[")[0])


def run_report(results, rows=None):
    """Per certification test case: {id, name, mc, lite, status, cpython, micropython, evidence[]};
    ``results`` as ``parse_junit`` gives them. status: passed / FAILED / skipped (its tests did not
    run) / n/a / not yet."""
    rows = rows if rows is not None else read_cases()[0]
    by = {}
    for tc, interp, outcome, test in results:
        by.setdefault(tc, []).append((interp, outcome, test))
    out = []
    for r in rows:
        res = by.get(r["id"], [])
        cp = _verdict([o for i, o, _ in res if i == "cpython"])
        mp = _verdict([o for i, o, _ in res if i == "micropython"])
        ev = {}
        for interp, outcome, test in res:
            cls, name = test.split("::", 1)
            ev.setdefault(test_key(cls, name), {})[interp] = outcome
        if "FAILED" in (cp, mp):
            status = "FAILED"
        elif "passed" in (cp, mp):
            status = "passed"
        elif "skipped" in (cp, mp):
            status = "skipped"
        elif r["lite"].startswith("N"):
            status = "n/a"
        else:
            status = "not yet"
        out.append({"id": r["id"], "name": r["name"], "mc": r["mc"], "lite": r["lite"],
                    "status": status, "cpython": cp, "micropython": mp,
                    "evidence": [{"test": k, "outcomes": ev[k]} for k in sorted(ev)]})
    return out


def _evidence_md(e):
    o = e["outcomes"]
    parts = ["%s %s" % ({"cpython": "CPython", "micropython": "MicroPython"}[i], o[i])
             for i in ("cpython", "micropython") if i in o]
    return "`%s` (%s)" % (e["test"], ", ".join(parts))


def render_md(report, when, command):
    n = len(report)
    count = {}
    for r in report:
        count[r["status"]] = count.get(r["status"], 0) + 1
    both = sum(1 for r in report if r["cpython"] == "passed" and r["micropython"] == "passed")
    failed = [r["id"] for r in report if r["status"] == "FAILED"]
    out = ["# Core certification checklist (Charging Station)", "",
           "Generated by `%s` on %s from pytest's junit XML: every Core test case," % (command, when),
           "its outcome on CPython and on the MicroPython unix port, and the tests carrying its id (the",
           "evidence). A test case passes on an interpreter when every test carrying its id that ran the",
           "stack there passed. Unit scenarios (tests/unit) run natively on CPython and on MicroPython",
           "through tests/test_unit_micropython.py; end-to-end scenarios start the station on each.",
           "Without a test: **n/a** (the Lite applicability reason) or **not yet**.", "",
           "Totals: %d test cases; passed %d (on both interpreters %d); failed %d%s; n/a %d; not yet %d." % (
               n, count.get("passed", 0), both, len(failed),
               (" (" + ", ".join(failed) + ")") if failed else "", count.get("n/a", 0),
               count.get("not yet", 0)), "",
           "| Test case | Name | M/C | Status | CPython | MicroPython | Evidence / reason |",
           "|---|---|---|---|---|---|---|"]
    for r in report:
        ev = "<br>".join(_evidence_md(e) for e in r["evidence"]) or r["lite"]
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["id"], r["name"], r["mc"], r["status"], r["cpython"], r["micropython"], ev))
    return "\n".join(out) + "\n"


def check(path=OUT):
    """Problems that make ``path`` out of date with the tests (empty list: current)."""
    if not os.path.exists(path):
        return ["%s is missing" % path]
    rows, _ = read_cases()
    found = find_tests()
    have = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and re.match(r"TC_[A-Z]_\d+_CS$", cells[0]):
            have[cells[0]] = (cells[3], set(re.findall(r"`([^`]+)`", cells[-1])))
    bad = []
    for r in rows:
        if r["id"] not in have:
            bad.append("%s: no row" % r["id"])
            continue
        status, ev = have[r["id"]]
        if status == "FAILED":
            bad.append("%s: FAILED" % r["id"])
        want = set(found.get(r["id"], []))
        if want != ev:
            bad.append("%s: tests now %s, report shows %s" % (r["id"], sorted(want - ev), sorted(ev - want)))
    return bad


def conformance_run(argv):
    import argparse
    import shlex
    import subprocess
    import time
    ap = argparse.ArgumentParser(
        prog="ocpp2lite conformance",
        description="Write docs/conformance.md from test results on both interpreters (--run: run the "
                    "certification-named tests first; --from-junit: from an existing junit XML), or "
                    "check that it is current with the tests (--check).")
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/conformance.md is out of date")
    ap.add_argument("--run", action="store_true", help="run the tests carrying a TC_x_nn_CS id (pytest -k TC_)")
    ap.add_argument("--from-junit", metavar="FILE", help="write the report from an existing junit XML")
    ap.add_argument("--out", default=OUT, help="the Markdown report (default docs/conformance.md; "
                                               "the JSON goes beside it)")
    ap.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. \"-x\"")
    a = ap.parse_args(argv)
    if a.check:
        bad = check(a.out)
        for b in bad[:20]:
            print(b)
        if bad:
            print("%s is out of date (%d rows): run ocpp2lite conformance --run" % (a.out, len(bad)))
            return 1
        return 0
    if not (a.run or a.from_junit):
        ap.print_help()
        return 2
    junit = a.from_junit
    command = "ocpp2lite conformance --from-junit"
    if a.run:
        import tempfile
        command = "ocpp2lite conformance --run"
        junit = os.path.join(tempfile.mkdtemp(prefix="conformance-"), "junit.xml")
        cmd = [sys.executable, "-m", "pytest", "-q", "-k", "TC_", "--junitxml", junit,
               "-p", "no:cacheprovider"] + shlex.split(a.pytest_args)
        print("running: %s" % " ".join(cmd), flush=True)
        rc = subprocess.call(cmd, cwd=ROOT)
        if not os.path.exists(junit):
            print("pytest wrote no junit XML (exit code %d)" % rc, file=sys.stderr)
            return 1
    report = run_report(parse_junit(junit))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    md = render_md(report, when, command)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(md)
    with open(os.path.splitext(a.out)[0] + ".json", "w", encoding="utf-8") as f:
        json.dump({"generated": when, "test_cases": report}, f, indent=1)
    print([l for l in md.splitlines() if l.startswith("Totals")][0])
    print("wrote %s and .json" % a.out)
    return 0 if not any(r["status"] == "FAILED" for r in report) else 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    return conformance_run(argv)


if __name__ == "__main__":
    sys.exit(main())
