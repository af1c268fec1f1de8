"""C11 ClearCache (Part 2 C11, part of C Authorization), an on-demand block: this stack keeps no
Authorization Cache, so every ClearCacheRequest ``{}`` is answered ``{"status": "Rejected"}``
(C11.FR.04). Loaded per request and released after it (RAM: no resident handler)."""


def handle(ctx, action, p, done):
    done()
    return {"status": "Rejected"}
