# OCPP2.Lite on an ESP32 DevKitC (ESP32-WROOM-32, 4 MB, no PSRAM): ESP32_GENERIC minus Bluetooth,
# with smaller mbedTLS record buffers (sdkconfig.ocpp) and the stack frozen (firmware/manifest.py).
#   OCPP_BOARD=esp32_devkit make -C ports/esp32 BOARD=OCPP_ESP32 BOARD_DIR=<repo>/firmware/boards/OCPP_ESP32
set(SDKCONFIG_DEFAULTS
    ${MICROPY_PORT_DIR}/boards/sdkconfig.base
    ${SDKCONFIG_IDF_VERSION_SPECIFIC}
    ${MICROPY_BOARD_DIR}/sdkconfig.ocpp
)

list(APPEND MICROPY_DEF_BOARD
    MICROPY_PY_BLUETOOTH=0
)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/../../manifest.py)
