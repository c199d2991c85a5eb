"""The replies: a usage body from the ledger, a documented response, or the upstream's.

``dispatch`` is the ``produce`` stage's choice between them, and the only way to the producers
(``usage``, ``documented``, ``proxy``); ``negotiation`` is what the refusing stages decide before
any producer runs; ``prefer`` reads what a request prefers (``Prefer``, ``X-Mock-Scenario``, the
``__`` query fallbacks).
"""
