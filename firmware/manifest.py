# MicroPython manifest (tools/manifestfile.py format) freezing OCPP2.Lite into a firmware image.
#
#   OCPP_BOARD=pico_w make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=/abs/path/firmware/manifest.py
#   OCPP_BOARD=esp32_devkit make -C ports/esp32 BOARD=OCPP_ESP32 \
#       BOARD_DIR=/abs/path/firmware/boards/OCPP_ESP32          (this board dir points here itself)
#   or from another manifest: include("/abs/path/firmware/manifest.py", board="pico_w", base="port")
#
# What is frozen is exactly what `ocpp2lite deploy` copies (ocpp2lite.deploy.image_sources): the
# stack packages without desktop-only modules, boards/__init__.py, boards/_*.py and the chosen
# board, and firmware/main.py as the frozen main.py (a frozen main.py runs at boot, before and
# instead of one on the filesystem). firmware/build/<board>/fw_image.py is generated here with the
# SHA-256 of those sources (same definition as deploy), so FIRMWARE_VERSION = "<ver>+<16 hex>".
#
# options.base: "minimal" (default: the port's _boot/filesystem modules, asyncio and ntptime
# only - smallest ROM), "port" ($(PORT_DIR)/boards/manifest.py + ntptime) or "board"
# ($(BOARD_DIR)/manifest.py, e.g. RPI_PICO_W's, which adds the networking bundle).
import importlib.util
import os

options.defaults(board=None, base="minimal")

_ROOT = os.path.dirname(os.getcwd())  # manifests are executed with cwd = their own directory
_BOARD = options.board or os.environ.get("OCPP_BOARD")
if not _BOARD:
    raise Exception("set OCPP_BOARD (e.g. pico_w, esp32_devkit) or include(..., board=...)")

# ocpp2lite.deploy holds the file list and the hash; load it by path (only the stdlib is needed).
_spec = importlib.util.spec_from_file_location("ocpp2lite_deploy",
                                               os.path.join(_ROOT, "ocpp2lite", "deploy.py"))
_deploy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_deploy)

if options.base == "port":
    include("$(PORT_DIR)/boards/manifest.py")
    require("ntptime")
elif options.base == "board":
    include("$(BOARD_DIR)/manifest.py")
else:
    freeze("$(PORT_DIR)/modules")
    include("$(MPY_DIR)/extmod/asyncio")
    require("ntptime")

_GEN = os.path.join(_ROOT, "firmware", "build", _BOARD)
_deploy.write_frozen_image(_BOARD, _GEN, _ROOT)
for _base, _rel in _deploy.image_sources(_BOARD, _ROOT):
    module(_rel, base_path=_base, opt=3)
module("fw_image.py", base_path=_GEN, opt=3)
