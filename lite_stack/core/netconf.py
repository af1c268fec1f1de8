"""Network connection profiles (Part 2 B09 SetNetworkProfile, B10 migrate / fall back, A05
security profile upgrade) and the choice of the profile to connect with.

Persistence: ``device_model.store`` record ``netprof`` = dict configurationSlot (str) ->
NetworkConnectionProfileType (the ``connectionData`` of SetNetworkProfile, schema-checked and so
bounded). Slots are the valuesList of OCPPCommCtrlr.NetworkConfigurationPriority (``0,1``): at
most that many profiles are ever stored. On a start whose store holds no ``netprof`` record the
factory profile (``settings``: URL and security profile) is written into slot ``0``; afterwards
the persisted profiles rule and the factory settings are not read again.

``NetConf(store, dm, url=None, sp=None)``:
- ``order()`` -> the slots of NetworkConfigurationPriority that hold a profile, in order.
- ``get(slot)`` / ``put(slot, data)``: a profile / store one (B09.FR.01).
- ``check_put(slot, data, in_use)`` -> None or reason: Rejected for a slot outside the valuesList
  (B09.FR.02) or a securityProfile below ``in_use`` (A05.FR.07, TC_A_22).
- ``connected(slot)``: a connection with ``slot`` succeeded: the profiles of a lower security
  profile leave NetworkConfigurationPriority and the store (A05: no fall back to a lower
  profile after an upgrade; TC_A_19 step 13).
- ``check_priority(value, has_root)`` -> bool for SetVariables NetworkConfigurationPriority:
  every slot needs a profile (B10) and a first slot of security profile >= 2 needs an installed
  CSMSRootCertificate (A05.FR.02, TC_A_20).
"""
from device_model import ids
from device_model.table import F_VL, field

STORE = "netprof"


def factory_profile(url, sp):
    """NetworkConnectionProfileType of the provisioned (factory) connection."""
    return {"ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": url,
            "messageTimeout": 30, "securityProfile": sp, "ocppInterface": "Wired0"}


def factory_sp(url, password, sp=None):
    """The factory security profile: ``sp`` when given, else ws:// without password 0, ws:// with
    one 1, wss:// 2 (Part 2 A00: profile 2 = TLS + Basic auth)."""
    if sp is not None and sp != "":
        return int(sp)
    if url.startswith("wss://"):
        return 2
    return 1 if password else 0


class NetConf:
    def __init__(self, store, dm, url=None, sp=None):
        self.store = store
        self.dm = dm
        v = store.load(STORE)
        self.fresh = not isinstance(v, dict)   # first start: the factory settings apply
        if self.fresh:
            v = {}
            if url:
                v["0"] = factory_profile(url, sp or 0)
                store.save(STORE, v)
        self.profiles = v

    def slots(self):
        return field(ids.NETWORK_CONFIGURATION_PRIORITY, F_VL).split(",")

    def get(self, slot):
        return self.profiles.get(str(slot))

    def order(self, value=None):
        if value is None:
            value = self.dm.get(ids.NETWORK_CONFIGURATION_PRIORITY)
        out = []
        for s in str(value).split(","):
            if s in self.profiles and s not in out:
                out.append(s)
        return out

    def check_put(self, slot, data, in_use):
        if str(slot) not in self.slots():
            return "InvalidValue"            # B09.FR.02: not a configuration slot
        if data.get("securityProfile", 0) < in_use:
            return "InvalidValue"            # A05.FR.07: no downgrade
        return None

    def put(self, slot, data):
        v = dict(self.profiles)
        v[str(slot)] = data
        self.store.save(STORE, v)
        self.profiles = v

    def check_priority(self, value, has_root):
        slots = str(value).split(",")
        for s in slots:
            if s not in self.profiles:
                return False                 # B10: a slot without a profile cannot be used
        first = self.profiles[slots[0]]
        return not (first.get("securityProfile", 0) >= 2 and not has_root)  # A05.FR.02

    def connected(self, slot):
        sp = self.profiles[slot].get("securityProfile", 0)
        keep = [s for s in self.order() if self.profiles[s].get("securityProfile", 0) >= sp]
        if len(keep) == len(self.order()):
            return
        v = {}
        for s in self.profiles:
            if self.profiles[s].get("securityProfile", 0) >= sp:
                v[s] = self.profiles[s]
        self.dm.set(ids.NETWORK_CONFIGURATION_PRIORITY, ",".join(keep))
        self.store.save(STORE, v)
        self.profiles = v
