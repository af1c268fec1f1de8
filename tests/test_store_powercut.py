"""Runs tests/mp_powercut.py on the MicroPython unix port: device_model.store on littlefs
(vfs.VfsLfs2 on a RAM block device) must reopen as wholly old or wholly new values after a power
cut at every block operation (clean and torn), including cuts during the recovery itself."""
import re
import subprocess

import pytest

from tests.mp import micropython_cmd, ROOT


@pytest.mark.micropython
def test_store_survives_a_power_cut_at_every_block_operation():
    p = subprocess.run(micropython_cmd() + ["tests/mp_powercut.py"], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    out = p.stdout
    m = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
    assert m, out + p.stderr
    assert p.returncode == 0 and m.group(2) == "0", out + p.stderr
    # a series per scenario, each with many cut points (the count proves the cuts happened)
    assert int(m.group(1)) >= 100, out
    for scenario in ("overwrite dm", "first write", "remove", "two saves", "overwrite 3 kB"):
        assert re.search(scenario + r".*: [1-9]\d* cut points, 0 failures", out), out
