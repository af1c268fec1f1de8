"""Helpers shared by the hardware board modules (not a board itself).

- ``serial(prefix)`` -> prefix + the MCU's ``machine.unique_id()`` in upper-case hex (BootNotification
  chargingStation.serialNumber, CiString25: prefixes are kept short), or prefix + "UNKNOWN" off-device.
- ``firmware_version(base)`` -> ``base + "+" + the first 16 hex digits of the firmware image's
  SHA-256`` when the image carries ``fw_image.SHA256`` (written by ``ocpp2lite deploy`` or by
  firmware/manifest.py for a frozen build), else ``base``. The full digest stays in
  ``fw_image.SHA256``; the short form keeps firmwareVersion within CiString50 (OCPP 2.0.1 Part 2,
  FirmwareType / ChargingStationType.firmwareVersion) while still identifying the image for the
  certificate.
"""


def serial(prefix):
    try:
        from machine import unique_id
        from binascii import hexlify
        return prefix + hexlify(unique_id()).decode().upper()
    except Exception:  # ImportError off-device, AttributeError on the unix port's machine
        return prefix + "UNKNOWN"


def firmware_version(base):
    try:
        from fw_image import SHA256
    except ImportError:
        return base
    return base + "+" + SHA256[:16]
