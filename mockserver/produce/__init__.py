"""The replies: a usage body from the ledger, a documented response, or the upstream's.

``dispatch`` is the ``produce`` stage's choice between them; ``prefer`` reads what a request
prefers (``Prefer``, ``X-Mock-Scenario``, the ``__`` query fallbacks); ``proxy`` forwards.
"""
