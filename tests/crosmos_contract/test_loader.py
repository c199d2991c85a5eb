"""The contract loader: encodings, and the memory its encoding choice saves."""

from __future__ import annotations

import json
from pathlib import Path

import chardet
import pytest

from crosmos_contract import ContractError, load_contract

SMALL = {
    "openapi": "3.1.0",
    "info": {"title": "Grüße – ünïcode", "version": "1"},
    "paths": {"/a": {"get": {"responses": {"200": {"$ref": "parts.json#/Ok"}}}}},
}
PARTS = {"Ok": {"description": "fine — ✓", "content": {"application/json": {"schema": {"type": "string"}}}}}


def _no_guessing(*_: object, **__: object) -> None:
    raise AssertionError("prance guessed the encoding (chardet's models cost ~23 MB per server process)")


def test_utf8_documents_load_without_an_encoding_guess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chardet, "detect", _no_guessing)
    assert load_contract().resolved["paths"]["/api/v1/usage"]["get"]
    (tmp_path / "parts.json").write_text(json.dumps(PARTS, ensure_ascii=False), encoding="utf-8")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SMALL, ensure_ascii=False), encoding="utf-8")
    loaded = load_contract(spec)
    assert loaded.title == "Grüße – ünïcode"
    assert loaded.resolved["paths"]["/a"]["get"]["responses"]["200"]["description"] == "fine — ✓"


def test_a_utf8_bom_and_a_utf16_document_still_load(tmp_path: Path) -> None:
    (tmp_path / "parts.json").write_text(json.dumps(PARTS), encoding="utf-8")
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(SMALL).encode())
    utf16 = tmp_path / "spec16.yaml"
    utf16.write_text(json.dumps(SMALL, ensure_ascii=False), encoding="utf-16")  # JSON is YAML; BOM included
    for spec in (with_bom, utf16):
        assert load_contract(spec).title == "Grüße – ünïcode", spec


@pytest.mark.parametrize("backend", ["jsonschema", "jsonschema-rs"])
def test_a_schema_error_names_the_problem_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    backend: str) -> None:
    monkeypatch.setenv("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", backend)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SMALL, "paths": {"/a": {"get": {"responses": {"200": {"description": 5}}}}}}))
    with pytest.raises(ContractError) as caught:
        load_contract(spec)
    assert str(caught.value).replace('"', "'") == (
        f"{spec}: invalid OpenAPI document: 5 is not of type 'string' (at paths./a.get.responses.200.description)")
