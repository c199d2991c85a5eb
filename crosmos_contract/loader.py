"""Load an OpenAPI 3.x document with prance: refs resolved, validated, errors in one line.

With a :class:`~crosmos_contract.verdicts.VerdictCache`, a resolved document already found valid
by the same validator versions is not checked again (``crosmos_contract.verdicts``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crosmos_contract.verdicts import VerdictCache

log = logging.getLogger(__name__)

_PACKAGED = Path(__file__).with_name("openapi.json")  # present in an installed wheel
_REPO_ROOT = Path(__file__).resolve().parents[1] / "openapi.json"  # a source checkout


class ContractError(Exception):
    """A contract that cannot be used; ``str()`` is one line naming the file and the problem."""


@dataclass(frozen=True)
class LoadedContract:
    path: Path
    raw: dict[str, Any]  # as written (refs intact), for tools that resolve refs themselves
    resolved: dict[str, Any]  # every $ref resolved
    sha256: str
    # the schema check's verdict came from the cache (same resolved document, same validators)
    verdict_cached: bool = False

    @property
    def title(self) -> str:
        return str(self.raw.get("info", {}).get("title", "untitled"))


def default_contract_path() -> Path:
    """The embedded contract: the packaged copy in a wheel, the repo's openapi.json in a checkout."""
    return _PACKAGED if _PACKAGED.exists() else _REPO_ROOT


def load_contract(path: str | Path | None = None, verdicts: VerdictCache | None = None) -> LoadedContract:
    """Parse, validate and resolve ``path`` (default: the embedded contract).

    Raises ContractError with a single readable line; never lets a parser traceback through.
    ``verdicts``: skip openapi-spec-validator when it already found this resolved document valid
    (and remember a new valid verdict); without it every load validates.
    """
    file = Path(path) if path is not None else default_contract_path()
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        raise ContractError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise ContractError(f"{file}: is a directory, not an OpenAPI document") from None
    except OSError as exc:
        raise ContractError(f"{file}: cannot read ({exc.strerror or exc})") from None
    raw = _parse(file, text)
    if not isinstance(raw, dict) or "openapi" not in raw:
        raise ContractError(f"{file}: not an OpenAPI 3.x document (no 'openapi' field)")
    if not str(raw["openapi"]).startswith("3."):
        raise ContractError(f"{file}: OpenAPI version {raw['openapi']!r} is not supported (3.x only)")
    resolved, cached = _resolve(file, _declared_encoding(text), verdicts)
    return LoadedContract(file.resolve(), raw, resolved, hashlib.sha256(text).hexdigest(), cached)


def _parse(file: Path, text: bytes) -> Any:
    try:
        if file.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"{file}: not valid JSON ({_one_line(exc)})") from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise ContractError(f"{file}: not valid YAML ({_one_line(exc)})") from None


def _declared_encoding(text: bytes) -> str | None:
    """UTF-8 (what JSON and YAML documents are in practice) when the bytes decode as such.

    Naming it spares prance its encoding guess, which imports chardet: ~23 MB of language
    models, resident in the server's master and in every worker forked from it. ``None`` (let
    prance guess) only for a document in another encoding, e.g. UTF-16 with a BOM.
    """
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "utf-8-sig"  # also reads a UTF-8 BOM, as prance's own guess does


def _resolve(file: Path, encoding: str | None, verdicts: VerdictCache | None) -> tuple[dict[str, Any], bool]:
    """The resolved document, and whether its schema check was answered by ``verdicts``."""
    _forget_fetched_files()
    try:
        parser = _parser_class()(
            str(file.resolve()), backend="openapi-spec-validator", strict=False, lazy=True,
            encoding=encoding,
        )
        parser.verdicts = verdicts
        parser.parse()
    except Exception as exc:  # prance raises ValidationError, ResolutionError and plain errors
        raise ContractError(f"{file}: invalid OpenAPI document: {_describe(exc)}") from None
    spec = parser.specification
    if not isinstance(spec, dict):
        raise ContractError(f"{file}: the document did not resolve to an object")
    return spec, parser.verdict_cached


@functools.cache
def _parser_class() -> type[Any]:
    """prance's ResolvingParser, its schema check consulting a verdict cache.

    prance resolves every ``$ref``, then hands the resolved document to openapi-spec-validator
    (``_validate_openapi_spec_validator``). Only that last call is answered from the cache, so the
    parsing, resolution and version checks run as before; when the cache does not know the
    document valid, prance's own check runs unchanged and a pass is remembered.
    """
    import prance
    import prance.util

    # prance evaluates its default backend even when one is named (``options.get("backend",
    # default_validation_backend())``), and finding the default imports every backend: 0.2 s of
    # openapi-spec-validator's imports on every start, though a cached verdict never runs it. The
    # loader always names its backend, so the default is never used: name it without the probe.
    prance.util.default_validation_backend = lambda: "openapi-spec-validator"

    class CheckingParser(prance.ResolvingParser):  # type: ignore[misc]
        verdicts: VerdictCache | None = None
        verdict_cached = False

        def _validate_openapi_spec_validator(self, spec_version: Any) -> None:
            verdicts = self.verdicts
            key = verdicts.key(self.specification) if verdicts is not None else None
            if verdicts is None or key is None:
                super()._validate_openapi_spec_validator(spec_version)
                return
            if verdicts.known_valid(key):
                self.verdict_cached = True
                log.debug("contract verdict from the cache (%s)", key[:12])
                return
            super()._validate_openapi_spec_validator(spec_version)
            verdicts.remember_valid(key, str(self.specification.get("info", {}).get("title", "")))

    return CheckingParser


def _forget_fetched_files() -> None:
    """prance keeps every file it fetched in a process-wide cache (``fetch_url``'s default argument),
    so loading an edited file again would resolve the old text under the new text's sha256."""
    from prance.util import url as prance_url

    cache = (prance_url.fetch_url.__defaults__ or (None,))[0]
    if isinstance(cache, dict):
        cache.clear()


def _describe(exc: BaseException) -> str:
    """The schema validator's own message and where in the document, not prance's repr of its arguments."""
    cause = exc.__cause__ or exc.__context__
    message, where = getattr(cause, "message", None), getattr(cause, "absolute_path", None)
    if isinstance(message, str) and message.strip() and where is not None:
        location = ".".join(str(part) for part in where) or "the document's root"
        return _one_line(f"{message.strip().splitlines()[0]} (at {location})")
    return _one_line(exc)


def _one_line(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."
