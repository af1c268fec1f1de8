# OCPP2.Lite: shrink the mbedTLS record buffers of ports that build mbedtls inside the MicroPython
# target (rp2; also stm32/mimxrt/renesas-ra with CMake), as a "user C module" without sources:
#   make -C ports/rp2 BOARD=RPI_PICO_W USER_C_MODULES=<repo>/firmware/tls/micropython.cmake \
#        FROZEN_MANIFEST=<repo>/firmware/manifest.py
# The compile definitions below reach every source of the firmware, including mbedtls, whose
# build_info.h includes MBEDTLS_USER_CONFIG_FILE after the port's configuration.
add_library(usermod_ocpp_tls INTERFACE)
target_compile_definitions(usermod_ocpp_tls INTERFACE
    MBEDTLS_USER_CONFIG_FILE="${CMAKE_CURRENT_LIST_DIR}/mbedtls_ocpp.h"
)
target_link_libraries(usermod INTERFACE usermod_ocpp_tls)
