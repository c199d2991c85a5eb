"""Reporters: pure functions from a SuiteResult to text (or, for the console, rich renderables)."""

from __future__ import annotations

from conformance.reporters.html import render_html
from conformance.reporters.json_report import render_json, to_dict
from conformance.reporters.junit import render_junit

__all__ = ["render_html", "render_json", "render_junit", "to_dict"]
