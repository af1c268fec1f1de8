"""Board definitions: the static facts of a charger and how its drivers are wired.

A board module defines (all plain constants, cheap in ROM):
``VENDOR``, ``MODEL``, ``SERIAL``, ``FIRMWARE_VERSION`` (BootNotification.chargingStation and the
device model), ``EVSES`` (default EVSE count, one connector each), ``CONNECTOR_TYPE`` (Part 2
ConnectorEnumType, e.g. "cType2" for a fixed cable, "sType2" for a socket), ``FIXED_CABLE``,
``PHASES`` (1 or 3; 0 for DC), ``MAX_CURRENT_A``, ``VOLTAGE_V``, ``MAX_POWER_W`` (per EVSE),
the memory bounds ``MAX_FRAME`` (bytes of one OCPP-J frame in or out), ``SEND_QUEUE`` (outbound
non-transaction messages), ``TX_QUEUE`` (persisted TransactionEvents), ``TX_ENDED_SAMPLES`` (meter values buffered per
transaction for its Ended event), optional ``TASKS`` (the station's fire-and-forget tasks,
default 8), and
``make_hal(clock, evses)`` -> ``(list of hal.Evse, rfid reader)``.

Selecting a board is one setting: ``OCPP_BOARD`` (default ``desktop``).
"""


def load(name=None):
    """Import ``boards.<name>`` and return the module; raises ImportError for an unknown board."""
    name = name or "desktop"
    mod = __import__("boards." + name)
    return getattr(mod, name)
