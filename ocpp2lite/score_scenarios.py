"""``ocpp2lite score --scenarios``: our certification-named black-box scenarios (tests/test_e2e.py,
named after the OCPP 2.0.1 use cases and test cases, e.g. TC_B_01_CS) run against any station through
the contract. Desktop only; needs the repository checkout (tests/) and pytest.

tests/harness.py runs the command in OCPP2LITE_E2E_STATION (``sh -c "exec <command>"``: a plain
command line, or a wrapper script) in place of our station; only the CPython-parametrised cases
run (``-m "not micropython"``), each scenario once. The scenarios see the station through the CSMS,
its stdin events, its exit code and its state directory only (docs/sim-contract.md).
"""
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from ocpp2lite.demo import ROOT

SUITE = "tests/test_e2e.py"
TIMEOUT_S = 900


def run(cmd, timeout=TIMEOUT_S):
    """{"passed", "total", "failed": [test names]} or {"error": text}."""
    if not os.path.exists(os.path.join(ROOT, SUITE)):
        return {"error": "%s not found (needs the repository checkout)" % SUITE}
    fd, xml = tempfile.mkstemp(suffix=".xml")
    os.close(fd)
    env = dict(os.environ, OCPP2LITE_E2E_STATION=cmd)
    try:
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not micropython",
                        SUITE, "--junitxml=" + xml], cwd=ROOT, env=env, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return parse(xml)
    except subprocess.TimeoutExpired:
        return {"error": "scenarios not finished in %d s" % timeout}
    except (OSError, ET.ParseError) as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}
    finally:
        os.unlink(xml)


def parse(xml_path):
    cases = ET.parse(xml_path).getroot().iter("testcase")
    total, failed = 0, []
    for c in cases:
        if c.find("skipped") is not None:
            continue
        total += 1
        if c.find("failure") is not None or c.find("error") is not None:
            failed.append(c.get("name"))
    return {"passed": total - len(failed), "total": total, "failed": failed}
