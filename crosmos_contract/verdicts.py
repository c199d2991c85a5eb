"""openapi-spec-validator's verdict on a contract, remembered on disk between runs.

Checking the embedded contract against the OpenAPI schema is most of what a start does after
its imports, and the verdict can only change when the document or the validator does. So a
*valid* verdict is kept in a small file whose name is a hash of everything the verdict depends
on: the fully resolved document (every ``$ref`` inlined, so an edit of a referenced file counts),
the installed versions of the validating libraries, the schema backend chosen through
``OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND`` and this cache's own format. Only valid
verdicts are kept: an invalid document is validated every time and refused with the
validator's own message. A missing, unreadable, corrupt or foreign entry means "validate
again"; a cache directory that cannot be written only means the next start validates too.

Where: ``$CROSMOS_MOCK_CACHE_DIR``, else ``$XDG_CACHE_HOME/crosmos-mock``, else
``~/.cache/crosmos-mock``, in ``contract-verdicts/``. ``crosmos-mock --no-contract-cache`` (or
``CROSMOS_MOCK_CONTRACT_CACHE=0``) validates at every start instead.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the key or the entry changes meaning
CACHE_DIR_ENV = "CROSMOS_MOCK_CACHE_DIR"
BACKEND_ENV = "OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND"
MAX_ENTRIES = 64  # one per distinct valid document; the oldest go first
# Everything that takes part in the verdict: the validator, the schemas it checks against, the
# JSON Schema machinery under it, its optional native backend, and prance, which resolves the refs.
VALIDATOR_PACKAGES = ("openapi-spec-validator", "openapi-schema-validator", "jsonschema", "jsonschema-path",
                      "jsonschema-specifications", "referencing", "jsonschema-rs", "prance")
VALID = "valid"


def default_cache_dir() -> Path:
    """``$CROSMOS_MOCK_CACHE_DIR``, else ``$XDG_CACHE_HOME/crosmos-mock``, else ``~/.cache/crosmos-mock``."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "crosmos-mock"


@functools.cache
def validator_versions() -> dict[str, str]:
    """The installed version of every package the verdict depends on ("-" when absent).

    Read once per process (each lookup scans the installed distributions, ~3 ms for all): the
    validators this process runs are the ones it imported, whatever is installed later."""
    found = {}
    for name in VALIDATOR_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "-"
    return found


@dataclass(frozen=True)
class VerdictCache:
    """Valid verdicts under ``directory`` (created on first write)."""

    directory: Path

    @property
    def entries(self) -> Path:
        return self.directory / "contract-verdicts"

    def key(self, resolved: Any) -> str | None:
        """The hash naming ``resolved``'s verdict with today's validators; None when it has no stable form."""
        try:
            document = repr(resolved)  # builtins only (JSON/YAML); repr keeps 200 and "200" apart
        except Exception:  # a document repr cannot describe: no cache, just validation
            return None
        stamp = json.dumps({"format": FORMAT, "python": sys.implementation.cache_tag,
                            "backend": os.environ.get(BACKEND_ENV, ""), "validators": validator_versions(),
                            "document": hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()},
                           sort_keys=True)
        return hashlib.sha256(stamp.encode()).hexdigest()

    def known_valid(self, key: str) -> bool:
        """True only for an entry that is whole and names exactly ``key`` as valid."""
        try:
            entry = json.loads((self.entries / f"{key}.json").read_bytes())
        except (OSError, ValueError):
            return False
        return isinstance(entry, dict) and entry.get("key") == key and entry.get("verdict") == VALID

    def remember_valid(self, key: str, title: str = "") -> None:
        """Keep a valid verdict; any failure to write is logged at debug level and otherwise ignored."""
        try:
            self.entries.mkdir(parents=True, exist_ok=True)
            body = json.dumps({"key": key, "verdict": VALID, "format": FORMAT, "title": title,
                               "validators": validator_versions()}).encode()
            handle, temporary = tempfile.mkstemp(dir=self.entries, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(body)
                os.replace(temporary, self.entries / f"{key}.json")  # readers see no half-written entry
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            self._prune()
        except OSError as exc:
            log.debug("contract verdict not cached in %s: %s", self.entries, exc)

    def _prune(self) -> None:
        files = [p for p in self.entries.glob("*.json") if not p.name.startswith(".")]
        if len(files) <= MAX_ENTRIES:
            return
        by_age = sorted(files, key=lambda p: p.stat().st_mtime_ns)
        for stale in by_age[:len(files) - MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                stale.unlink()
