"""A fake ``esp32`` module (OTA partitions) for the ESP32 board's L01 firmware path: two app
partitions ``ota_0`` / ``ota_1`` of ``SIZE`` bytes in RAM. ``install()`` puts it in
``sys.modules``; ``reset()`` clears the state; ``reboot()`` applies the boot selection (or a
rollback when ``rollback`` is set)."""
import sys

SIZE = 64 * 1024
state = {}


def reset():
    state.clear()
    state.update({"running": "ota_0", "boot": "ota_0", "valid": True, "rollback": False,
                  "flash": {"ota_0": bytearray(SIZE), "ota_1": bytearray(SIZE)}, "writes": 0})


class Partition:
    RUNNING = 1

    def __init__(self, which):
        self.label = state["running"] if which == Partition.RUNNING else which

    def get_next_update(self):
        return Partition("ota_1" if self.label == "ota_0" else "ota_0")

    def info(self):
        return (0, 16, 0x10000, SIZE, self.label, False)

    def writeblocks(self, blk, buf):
        assert len(buf) == 4096
        state["flash"][self.label][blk * 4096:(blk + 1) * 4096] = buf
        state["writes"] += 1

    def set_boot(self):
        state["boot"] = self.label

    @staticmethod
    def mark_app_valid_cancel_rollback():
        state["valid"] = True


def reboot():
    if state["rollback"]:
        state["boot"] = state["running"]
    state["running"] = state["boot"]
    state["valid"] = False


def install():
    sys.modules["esp32"] = sys.modules[__name__]


reset()
