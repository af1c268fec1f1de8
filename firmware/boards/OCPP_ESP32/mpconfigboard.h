// OCPP2.Lite ESP32 DevKitC charger (see firmware/boards/OCPP_ESP32/mpconfigboard.cmake).
#define MICROPY_HW_BOARD_NAME "OCPP2.Lite ESP32 DevKitC"
#define MICROPY_HW_MCU_NAME "ESP32"
