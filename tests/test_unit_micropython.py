"""Run every tests/unit module on the MicroPython unix port, one pytest case per test function.

The same modules run natively under pytest on CPython (they are plain test_* functions), so every
unit scenario runs on both interpreters.
"""
import os
import re
import subprocess

import pytest

from tests.mp import micropython_cmd, ROOT

UNIT = os.path.join(ROOT, "tests", "unit")
MODULES = sorted(f[:-3] for f in os.listdir(UNIT) if f.startswith("test_") and f.endswith(".py"))
_cache = {}


def _run_module(mod):
    if mod not in _cache:
        p = subprocess.run(micropython_cmd() + ["tests/mprun.py", "tests.unit." + mod], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        _cache[mod] = p
    return _cache[mod]


def _cases():
    out = []
    for mod in MODULES:
        src = open(os.path.join(UNIT, mod + ".py")).read()
        for name in re.findall(r"^def (test_\w+)\(", src, re.M):
            out.append((mod, name))
    return out


@pytest.mark.micropython
@pytest.mark.parametrize("mod,name", _cases())
def test_on_micropython(mod, name):
    p = _run_module(mod)
    lines = p.stdout.splitlines()
    if ("PASS " + name) in lines:
        return
    detail = [l for l in lines if l.startswith("FAIL " + name)]
    pytest.fail("%s.%s on MicroPython: %s\n%s\n%s" % (mod, name, detail or "not run", p.stdout[-3000:],
                                                       p.stderr[-3000:]))
