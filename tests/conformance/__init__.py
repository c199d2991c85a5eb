"""Tests of the conformance suite: its judge and rules wiring, and its proof against real servers."""
