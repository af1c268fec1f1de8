"""A fake ``ntptime``: ``settime()`` counts calls, or raises OSError when ``fail`` is set."""
host = "pool.ntp.org"
fail = False
calls = []


def settime():
    calls.append(host)
    if fail:
        raise OSError(110)
