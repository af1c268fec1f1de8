"""RFC 3339 date-times (Part 2 §2.1.4 dateTime) <-> int seconds since 1970-01-01T00:00:00Z.

Here, not in ``lite_stack.clock``, so the device model (ClockCtrlr.DateTime, dateTime values)
needs nothing from the stack above it; ``lite_stack.clock`` re-exports both functions.
Pure integer arithmetic (proleptic Gregorian calendar, Howard Hinnant's civil-date algorithms):
no ``time.gmtime``, so the result is the same on every port and epoch.
"""


def _days_from_civil(y, m, d):
    # days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm)
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def iso(epoch_s):
    """RFC 3339 UTC timestamp without fractions, e.g. ``2026-01-01T00:00:00Z`` (Part 2 §2.1.4:
    dateTime, at most 3 decimals)."""
    epoch_s = int(epoch_s)
    days, rem = divmod(epoch_s, 86400)
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y += m <= 2
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)


def parse_iso(s):
    """Parse an RFC 3339 date-time (``YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)``) to int epoch seconds.
    Raises ``ValueError`` on anything else."""
    if not isinstance(s, str) or len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt" \
            or s[13] != ":" or s[16] != ":":
        raise ValueError("not an RFC 3339 date-time")
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
        raise ValueError("date-time field out of range")
    i = 19
    if i < len(s) and s[i] == ".":
        i += 1
        j = i
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        if i == j:
            raise ValueError("empty fraction")
    rest = s[i:]
    off = 0
    if rest in ("Z", "z"):
        pass
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        off = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        if rest[0] == "-":
            off = -off
    else:
        raise ValueError("bad time zone")
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off
