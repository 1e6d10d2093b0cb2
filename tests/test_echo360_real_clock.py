"""Echo360 with a real clock: a request turns Available when its time comes, with no call to move the clock."""
from __future__ import annotations

import gzip
import time

from emulator.app import create_app
from emulator.settings import Settings


def test_real_clock_requests_complete_on_time_and_download():
    app = create_app(Settings(clock="real", seed=1))
    emulator = app.extensions["emulator"]
    model = emulator.vendors["echo360"]
    emulator.load_scenario({"name": "quick", "echo360": {"processing_seconds": 0.3}})
    client = app.test_client()
    token = client.post("/oauth2/access_token",
                        query_string={"grant_type": "client_credentials", **model.credentials()}).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    try:
        response = client.post("/public/api/v1/reporting/requests/asset", json={}, headers=auth)
        assert response.status_code == 200, response.json
        request_id = response.json["requestId"]
        assert response.json["status"] == "Pending"
        deadline = time.monotonic() + 30
        while True:
            detail = client.get(f"/public/api/v1/reporting/requests/{request_id}", headers=auth).json
            if detail["status"] != "Pending" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert detail["status"] == "Available"
        link = detail["signedAssets"][0].split("://", 1)[1].split("/", 1)[1]
        download = client.get("/" + link)
        assert download.status_code == 200
        assert gzip.decompress(download.data).startswith(b'"')  # a complete gzip CSV with its header
    finally:
        emulator.close()
