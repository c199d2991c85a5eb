"""Replayed replies are the full pipeline's replies, and whatever can change an answer changes the key."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from crosmos_contract import default_contract_path
from mockserver.app import create_app
from mockserver.model.scenarios import SCENARIOS
from mockserver.serving.replay import Replay
from tests.mockserver.test_properties import TODAY, optional_days, tokens

FULL = create_app(seed=5, clock=lambda: TODAY, access_log=False, replay=False)
REPLAYING = create_app(seed=5, clock=lambda: TODAY, access_log=False)
SHAPES = st.fixed_dictionaries({}, optional={
    "Prefer": st.sampled_from([f"scenario={name}" for name in SCENARIOS] + ["code=422", "example=nope", "code=200"]),
    "X-Mock-Scenario": st.sampled_from([*SCENARIOS, "nope"]),
    "Origin": st.sampled_from(["http://localhost:5173", "https://app.example"]),
})


def _replay(app: Flask) -> Replay:
    replay = app.wsgi_app
    assert isinstance(replay, Replay)
    return replay


def _answer(app: Flask, token: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, bytes, list[Any]]:
    response = app.test_client().get("/api/v1/usage", query_string=query,
                                     headers={"Authorization": f"Bearer {token}", **headers})
    return response.status_code, response.get_data(), sorted(response.headers.items())


@settings(max_examples=150, deadline=None)
@given(token=tokens, start=optional_days, end=optional_days, headers=SHAPES)
def test_a_replayed_reply_is_byte_for_byte_the_full_pipelines(token: str, start: date | None, end: date | None,
                                                               headers: dict[str, str]) -> None:
    query = {k: v.isoformat() for k, v in (("start_date", start), ("end_date", end)) if v is not None}
    expected = _answer(FULL, token, query, headers)
    first = _answer(REPLAYING, token, query, headers)  # the full path, kept if replayable
    kept = len(_replay(REPLAYING).kept)
    again = _answer(REPLAYING, token, query, headers)  # replayed when kept
    assert first == expected and again == expected
    assert len(_replay(REPLAYING).kept) == kept  # a twin adds nothing: it was answered from memory
    assert kept > 0


def test_a_twin_is_answered_from_memory_and_journaled() -> None:
    app = create_app(seed=5, clock=lambda: TODAY, access_log=False)
    client = app.test_client()
    headers = {"Authorization": "Bearer csk_replay_journal"}
    assert client.get("/api/v1/usage", headers=headers).status_code == 200
    assert len(_replay(app).kept) == 1
    assert client.get("/api/v1/usage", headers=headers).status_code == 200
    assert len(_replay(app).kept) == 1
    entries = client.get("/__mock/journal").get_json()["entries"]
    assert [(e["status"], e["request"], e["response"]) for e in entries[:2]] == [(200, "valid", "valid")] * 2
    assert "csk_replay_journal" not in json.dumps(entries)


def test_a_new_day_a_control_change_and_a_reload_each_change_the_answer(tmp_path: Path) -> None:
    day = [TODAY]
    spec = tmp_path / "openapi.json"
    original = json.loads(default_contract_path().read_text())
    spec.write_text(json.dumps(original))
    app = create_app(seed=5, clock=lambda: day[0], access_log=False, spec=spec, reload_interval=0)
    client = app.test_client()
    headers = {"Authorization": "Bearer csk_replay_invalidation"}

    def usage() -> Any:
        return client.get("/api/v1/usage", headers=headers).get_json()

    assert usage()["period_end"] == usage()["period_end"] == TODAY.isoformat()
    day[0] = TODAY + timedelta(days=1)
    assert usage()["period_end"] == day[0].isoformat()  # a new day: not yesterday's reply

    before = usage()
    assert client.put("/__mock/scenario", json={"scenario": "exhausted"}).status_code == 200
    exhausted = usage()
    assert exhausted != before and exhausted["tokens"]["remaining"] == 0  # the control change is served

    assert client.get("/api/v1/ping").status_code == 404
    edited = copy.deepcopy(original)
    edited["paths"]["/api/v1/ping"] = {"get": {"operationId": "ping", "security": [], "responses": {"200": {
        "description": "pong", "content": {"application/json": {"example": {"pong": True}}}}}}}
    spec.write_text(json.dumps(edited))
    assert client.post("/__mock/reload").status_code == 200
    assert client.get("/api/v1/ping").status_code == 200  # the reloaded contract, not the kept 404


def test_what_is_never_replayed() -> None:
    app = create_app(seed=5, clock=lambda: TODAY, access_log=False)
    client = app.test_client()
    auth = {"Authorization": "Bearer csk_replay_never"}
    client.get("/api/v1/usage", headers={**auth, "Prefer": "dynamic=true"})
    client.get("/api/v1/usage", headers={**auth, "Prefer": "delay=0ms"})
    client.get("/api/v1/usage", headers={**auth, "Prefer": "code=503"})  # a requested fault
    client.head("/api/v1/usage", headers=auth)
    client.get("/__mock/health")
    assert len(_replay(app).kept) == 0
    assert client.put("/__mock/faults", json={"error_rate": 0.5}).status_code == 200
    for _ in range(3):
        client.get("/api/v1/usage", headers=auth)
    assert len(_replay(app).kept) == 0  # with a fault on, every reply takes the full path


def test_a_request_with_a_body_or_over_a_size_limit_takes_the_full_path_every_time() -> None:
    """Replay is the outermost layer: the size limits behind it still refuse, and nothing they
    refuse is kept; a body is not in the key, so a request with one is never answered from memory."""
    app = create_app(seed=5, clock=lambda: TODAY, access_log=False)
    client = app.test_client()
    auth = {"Authorization": "Bearer csk_replay_layers"}
    huge = {**auth, "X-Padding": "p" * (17 * 1024)}
    assert [client.get("/api/v1/usage", headers=huge).status_code for _ in range(2)] == [431, 431]
    long_url = "/api/v1/usage?start_date=" + "9" * (9 * 1024)
    assert [client.get(long_url, headers=auth).status_code for _ in range(2)] == [414, 414]
    for body in (b"one", b"two"):
        assert client.get("/api/v1/usage", headers=auth, data=body).status_code == 200
    assert len(_replay(app).kept) == 0
    assert client.get("/api/v1/usage", headers=auth).status_code == 200
    assert len(_replay(app).kept) == 1  # the same request without a body is kept
