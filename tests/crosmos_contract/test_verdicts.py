"""The contract's verdict cache: a known-valid document skips openapi-spec-validator, nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

import openapi_spec_validator
import pytest

from crosmos_contract import ContractError, load_contract, verdicts
from crosmos_contract.verdicts import VerdictCache

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "cached", "version": "1"},
    "paths": {"/a": {"get": {"responses": {"200": {"$ref": "parts.json#/Ok"}}}}},
}
PARTS = {"Ok": {"description": "fine", "content": {"application/json": {"schema": {"type": "string"}}}}}
INVALID = {**SPEC, "paths": {"/a": {"get": {"responses": {"200": {"description": 5}}}}}}
INVALID_MESSAGE = "invalid OpenAPI document: 5 is not of type 'string' (at paths./a.get.responses.200.description)"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "parts.json").write_text(json.dumps(PARTS))
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call of openapi-spec-validator's check (prance imports it at the moment it validates)."""
    calls: list[object] = []
    real = openapi_spec_validator.validate

    def counting(spec: object, *args: object, **kwargs: object) -> None:
        calls.append(spec)
        real(spec, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(openapi_spec_validator, "validate", counting)
    return calls


def test_a_valid_document_is_checked_once_then_known(spec: Path, tmp_path: Path, validations: list[object]) -> None:
    cache = VerdictCache(tmp_path / "cache")
    first = load_contract(spec, verdicts=cache)
    assert (len(validations), first.verdict_cached) == (1, False)
    second = load_contract(spec, verdicts=cache)
    assert (len(validations), second.verdict_cached) == (1, True)
    assert second.resolved == first.resolved and second.sha256 == first.sha256
    assert len(list(cache.entries.glob("*.json"))) == 1


def test_without_a_cache_every_load_validates(spec: Path, validations: list[object]) -> None:
    for _ in range(2):
        assert not load_contract(spec).verdict_cached
    assert len(validations) == 2


def test_an_edit_is_validated_again_and_an_invalid_edit_refused(spec: Path, tmp_path: Path,
                                                               validations: list[object]) -> None:
    cache = VerdictCache(tmp_path / "cache")
    load_contract(spec, verdicts=cache)
    spec.write_text(json.dumps({**SPEC, "info": {"title": "edited", "version": "2"}}))
    assert not load_contract(spec, verdicts=cache).verdict_cached
    spec.write_text(json.dumps(INVALID))
    for _ in range(2):  # an invalid verdict is never kept: refused, with the validator's words, every time
        with pytest.raises(ContractError) as caught:
            load_contract(spec, verdicts=cache)
        assert str(caught.value).replace('"', "'") == f"{spec}: {INVALID_MESSAGE}"
    assert len(validations) == 4


def test_an_edit_of_a_referenced_file_is_validated_again(spec: Path, tmp_path: Path,
                                                        validations: list[object]) -> None:
    cache = VerdictCache(tmp_path / "cache")
    load_contract(spec, verdicts=cache)
    (tmp_path / "parts.json").write_text(json.dumps({"Ok": {"description": 5}}))  # spec.json itself unchanged
    with pytest.raises(ContractError, match="invalid OpenAPI document: 5 is not of type"):
        load_contract(spec, verdicts=cache)
    assert len(validations) == 2


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"verdict": "valid"}',
                                     b'{"key": "0000", "verdict": "valid"}', b"\xff\xfe"])
def test_a_corrupt_or_foreign_entry_means_validate_again(spec: Path, tmp_path: Path, validations: list[object],
                                                         content: bytes) -> None:
    cache = VerdictCache(tmp_path / "cache")
    load_contract(spec, verdicts=cache)
    (entry,) = cache.entries.glob("*.json")
    entry.write_bytes(content)
    again = load_contract(spec, verdicts=cache)
    assert not again.verdict_cached and len(validations) == 2
    assert json.loads(entry.read_bytes())["verdict"] == "valid"  # rewritten whole
    assert load_contract(spec, verdicts=cache).verdict_cached


def test_an_entry_for_a_valid_document_does_not_vouch_for_an_invalid_one(spec: Path, tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "cache")
    load_contract(spec, verdicts=cache)
    (entry,) = cache.entries.glob("*.json")
    spec.write_text(json.dumps(INVALID))
    invalid_key = cache.key(load_contract_resolved_anyway(spec))
    entry.rename(cache.entries / f"{invalid_key}.json")  # the valid entry's body under the invalid one's name
    with pytest.raises(ContractError, match="invalid OpenAPI document"):
        load_contract(spec, verdicts=cache)


def load_contract_resolved_anyway(spec: Path) -> object:
    """``spec``'s resolved document as the loader keys it, without validating it."""
    import prance

    from crosmos_contract.loader import _forget_fetched_files

    _forget_fetched_files()
    parser = prance.ResolvingParser(str(spec), backend="openapi-spec-validator", strict=False, lazy=True)
    with pytest.raises(Exception):  # noqa: B017 - it resolves, then fails validation
        parser.parse()
    return parser.specification


@pytest.mark.parametrize("kind", ["a file in the way", "a read-only directory"])
def test_an_unwritable_cache_directory_only_means_validating_each_time(spec: Path, tmp_path: Path,
                                                                       validations: list[object],
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       kind: str) -> None:
    if kind == "a file in the way":
        (tmp_path / "blocked").write_text("not a directory")
        cache = VerdictCache(tmp_path / "blocked" / "cache")
    else:
        cache = VerdictCache(tmp_path / "cache")

        def refuse(*_: object, **__: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(verdicts.tempfile, "mkstemp", refuse)  # root ignores mode bits: refuse the write
    for _ in range(2):
        assert not load_contract(spec, verdicts=cache).verdict_cached
    assert len(validations) == 2
    with pytest.raises(ContractError, match="invalid OpenAPI document"):
        spec.write_text(json.dumps(INVALID))
        load_contract(spec, verdicts=cache)


def test_another_validator_version_or_backend_validates_again(spec: Path, tmp_path: Path, validations: list[object],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = VerdictCache(tmp_path / "cache")
    load_contract(spec, verdicts=cache)
    real = verdicts.validator_versions()
    monkeypatch.setattr(verdicts, "validator_versions", lambda: {**real, "openapi-spec-validator": "99.0"})
    assert not load_contract(spec, verdicts=cache).verdict_cached
    monkeypatch.setattr(verdicts, "validator_versions", lambda: real)
    assert load_contract(spec, verdicts=cache).verdict_cached
    monkeypatch.setenv(verdicts.BACKEND_ENV, "jsonschema-rs")
    assert not load_contract(spec, verdicts=cache).verdict_cached
    assert len(validations) == 3


def test_the_key_tells_integer_and_string_keys_apart(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path)
    assert cache.key({"200": {"description": "x"}}) != cache.key({200: {"description": "x"}})
    assert cache.key({"a": 1}) == cache.key({"a": 1})


def test_old_entries_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdicts, "MAX_ENTRIES", 3)
    cache = VerdictCache(tmp_path)
    keys = [cache.key({"n": n}) for n in range(5)]
    for key in keys:
        assert key is not None
        cache.remember_valid(key)
    kept = sorted(p.stem for p in cache.entries.glob("*.json"))
    assert len(kept) == 3 and all(cache.known_valid(k) for k in kept)


def test_the_default_directory_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(verdicts.CACHE_DIR_ENV, str(tmp_path / "explicit"))
    assert verdicts.default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv(verdicts.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert verdicts.default_cache_dir() == tmp_path / "xdg" / "crosmos-mock"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert verdicts.default_cache_dir() == Path.home() / ".cache" / "crosmos-mock"
