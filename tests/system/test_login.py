"""With a login on (RAG_AUTH): repeated wrong passwords are slowed per client; Gradio's file route stays shut.

Issue 21: 30 wrong passwords in a row were all answered at full speed. The server here is real
(the app launched on loopback with a login); its back-off runs on an injected clock, so the test
moves time instead of sleeping. The `/gradio_api/file=` rows are the probe's passing checks, kept
as regression tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretStr

from rag.ui.login import FailedLogins

USER, PASSWORD = "alice", "s3cr3t-pw"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_back_off_doubles_per_failure_and_a_success_clears_it() -> None:
    clock = FakeClock()
    logins = FailedLogins(free=3, first=1.0, longest=30.0, clock=clock)
    for _ in range(3):
        logins.failed("a")
    assert logins.wait("a") == 0  # three free tries
    waits = []
    for _ in range(7):
        logins.failed("a")
        waits.append(logins.wait("a"))
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert logins.wait("b") == 0  # per client
    logins.succeeded("a")
    assert logins.wait("a") == 0


@pytest.fixture(scope="module")
def login_server(pipeline) -> Iterator[tuple[str, FakeClock]]:
    from rag.ui import build_app, launch
    from tests.helpers import free_port

    clock = FakeClock()
    settings = pipeline.settings.model_copy(update={"auth": SecretStr(f"{USER}:{PASSWORD}")})
    app = build_app(pipeline, settings)
    port = free_port()
    logins = FailedLogins(free=3, first=1.0, longest=30.0, clock=clock)
    launch(app, settings, host="127.0.0.1", port=port, block=False, quiet=True, logins=logins)
    try:
        yield f"http://127.0.0.1:{port}", clock
    finally:
        app.close()


def login(url: str, password: str, source: str = "127.0.0.1") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.post(f"{url}/login", data={"username": USER, "password": password})


@pytest.mark.browser
def test_repeated_wrong_passwords_are_refused_for_a_while_per_client(login_server) -> None:
    url, clock = login_server
    answers = [login(url, "wrong").status_code for _ in range(5)]
    assert answers == [400, 400, 400, 400, 429]  # three free, the fourth locks for 1 s, the fifth is refused
    refused = login(url, PASSWORD)  # even the right password waits out the back-off
    assert refused.status_code == 429
    assert "Too many failed logins from this address; try again in 1 s." in refused.text
    assert refused.headers["retry-after"] == "1"
    assert login(url, PASSWORD, source="127.0.0.2").status_code == 200  # another client is not slowed
    clock.now += 1.01
    assert login(url, "wrong").status_code == 400  # a fifth failure: now 2 s
    clock.now += 1.5
    assert login(url, PASSWORD).status_code == 429
    clock.now += 0.6
    assert login(url, PASSWORD).status_code == 200  # a success clears the count
    assert [login(url, "wrong").status_code for _ in range(3)] == [400, 400, 400]


@pytest.mark.browser
def test_login_still_guards_the_api(login_server) -> None:
    url, _ = login_server
    with httpx.Client(timeout=30) as client:
        assert client.post(
            f"{url}/gradio_api/call/ask", json={"data": ["pointer networks", 5, "auto", None]}
        ).status_code in (401, 403)


@pytest.mark.browser
@pytest.mark.parametrize(
    "target",
    ["seeds", "data", "/etc/passwd", "../../../../etc/passwd", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"],
)
def test_file_route_refuses_files_outside_the_allowed_paths(app_url, pipeline, target) -> None:
    from tests.conftest import SEEDS

    settings = pipeline.settings
    paths = {
        "seeds": str(sorted(SEEDS.glob("*.txt"))[0]),
        "data": str(next(p for p in settings.chroma_path.rglob("*") if p.is_file())),
    }
    path = paths.get(target, target)
    raw = path if "%" in path else quote(path, safe="/.")
    with httpx.Client(timeout=30) as client:
        response = client.get(f"{app_url.rstrip('/')}/gradio_api/file={raw}")
    assert response.status_code in (403, 404), (target, response.status_code)
    assert "root:" not in response.text
    assert "byAK" not in response.text and "SQLite" not in response.text
