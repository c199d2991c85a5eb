"""Benchmarks of the mock against Prism and a bare WSGI app, and timings of a certification run.

Run ``python -m bench.run --help`` from the repository root. Nothing under ``tests/`` or the
packages imports this: numbers are measured here, never asserted in unit tests.
"""
