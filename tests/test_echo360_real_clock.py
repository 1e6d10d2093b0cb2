"""Echo360 with a real clock: the scheduler completes transitions on time, with no call to move them."""
from __future__ import annotations

import threading

from emulator.app import create_app
from emulator.settings import Settings


def test_real_clock_transitions_fire_without_any_request():
    app = create_app(Settings(clock="real", seed=1))
    emulator = app.extensions["emulator"]
    model = emulator.vendors["echo360"]
    emulator.load_scenario({"name": "quick", "echo360": {"processing_seconds": 0.3}})
    client = app.test_client()
    token = client.post("/oauth2/access_token",
                        query_string={"grant_type": "client_credentials", **model.credentials()}).json["access_token"]
    available = threading.Event()
    original = model.board.on_transition

    def watch(job, old, new, at):
        original(job, old, new, at)
        if new == "Available":
            available.set()

    model.board.on_transition = watch
    try:
        response = client.post("/public/api/v1/reporting/requests/asset", json={},
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.json
        request_id = response.json["requestId"]
        assert available.wait(30), "the scheduler fired the transition to Available"
        assert model.board.get(request_id).state == "Available"
        assert model.requests[request_id].rows > 0  # the file was complete when it became Available
    finally:
        model.reset()
        model.scheduler.shutdown()
