"""The mock with its contract verdict cache: quicker starts, the same refusals, every request still validated."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crosmos_contract import default_contract_path
from mockserver.app import create_app
from mockserver.cli import main
from mockserver.state import EXTENSION, MockState

TOKEN = {"Authorization": "Bearer csk_test"}
INVENTORY = Path(__file__).parent / "data" / "inventory.yaml"


def _state(spec: Path, cache: Path | None) -> MockState:
    app = create_app(spec=spec, contract_cache=cache, access_log=False, journal_size=0, reload=False)
    mock: MockState = app.extensions[EXTENSION]
    return mock


def test_a_second_start_knows_the_verdict_and_still_validates_every_request(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_bytes(default_contract_path().read_bytes())
    cache = tmp_path / "cache"
    assert not _state(spec, cache).runtime.contract.verdict_cached
    assert _state(spec, cache).runtime.contract.verdict_cached
    assert not _state(spec, None).runtime.contract.verdict_cached  # no cache: validated every time
    client = create_app(spec=spec, contract_cache=cache, access_log=False, journal_size=0).test_client()
    assert client.get("/api/v1/usage", headers=TOKEN).status_code == 200
    assert client.get("/api/v1/usage?start_date=not-a-date", headers=TOKEN).status_code == 422
    assert client.get("/api/v1/usage").status_code == 401


def test_openapi_core_still_judges_requests_when_the_verdict_was_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _state(INVENTORY, cache)
    app = create_app(spec=INVENTORY, contract_cache=cache, access_log=False, journal_size=0)
    assert app.extensions[EXTENSION].runtime.contract.verdict_cached
    client, key = app.test_client(), {"X-API-Key": "k"}
    assert client.get("/items?limit=5", headers=key).status_code == 200
    assert client.get("/items?limit=500", headers=key).status_code == 422  # the schema's maximum, openapi-core's
    assert client.post("/items", headers=key, json={"price": -1}).status_code == 422


def test_an_invalid_contract_is_refused_at_start_with_the_cache_on(tmp_path: Path) -> None:
    spec = tmp_path / "openapi.json"
    document = json.loads(default_contract_path().read_text())
    spec.write_text(json.dumps(document))
    cache = tmp_path / "cache"
    _state(spec, cache)  # the valid version is now known
    document["info"]["version"] = 3  # the schema wants a string
    spec.write_text(json.dumps(document))
    for _ in range(2):
        result = CliRunner().invoke(main, ["--spec", str(spec), "--port", "0"],
                                    env={"CROSMOS_MOCK_CACHE_DIR": str(cache)})
        assert result.exit_code == 1
        assert "cannot load the contract:" in result.output and "invalid OpenAPI document" in result.output
        assert "(at info.version)" in result.output


def test_the_cache_is_documented_in_the_help_and_can_be_turned_off() -> None:
    text = " ".join(CliRunner().invoke(main, ["--help"]).output.split())
    assert "--contract-cache / --no-contract-cache" in text and "CROSMOS_MOCK_CONTRACT_CACHE=0" in text
