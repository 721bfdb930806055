"""Dashboard sessions without a browser: the cookie's flags, what PostgreSQL keeps, revoked
keys, sign-out, CSRF, and what a session may reach of the API."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from infra import keys
from infra.db import connect
from tests.support.system import System


async def sign_in_form(client: httpx.AsyncClient, key: str, next_url: str = "/ui") -> httpx.Response:
    """Fill in and post the sign-in form (with the token its page carries)."""
    form = await client.get("/ui/sign-in")
    found = re.search(r'name="_csrf" value="([^"]+)"', form.text)
    assert form.status_code == 200 and found is not None, form.text
    return await client.post("/ui/sign-in", data={"api_key": key, "next_url": next_url, "_csrf": found.group(1)})


async def sign_in(system: System, key: str) -> httpx.AsyncClient:
    """A client (cookie jar included) signed in with `key` through the sign-in form."""
    client = httpx.AsyncClient(base_url=system.base_url, timeout=30)
    response = await sign_in_form(client, key, "/ui/jobs")
    assert response.status_code == 303 and response.headers["location"] == "/ui/jobs", response.text
    return client


async def csrf_token(client: httpx.AsyncClient) -> str:
    """The CSRF token the session's pages carry."""
    page = await client.get("/ui/jobs")
    assert page.status_code == 200, page.text
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


@pytest.fixture
async def key(shared_system: System) -> str:
    """An admin key of a tenant of this test's own."""
    return await shared_system.api_key(f"tenant-{secrets.token_hex(4)}")


@pytest.fixture
async def session(shared_system: System, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in client."""
    client = await sign_in(shared_system, key)
    yield client
    await client.aclose()


async def test_ui_session_cookie_is_httponly_strict_and_only_its_hash_is_stored(
    shared_system: System, key: str
) -> None:
    # When a browser signs in with a key
    async with httpx.AsyncClient(base_url=shared_system.base_url) as client:
        response = await sign_in_form(client, key)

    # Then the cookie is HttpOnly and SameSite=Strict, and holds a session id, never the key
    assert response.status_code == 303
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("conveyor_session=")]
    assert "HttpOnly" in cookie and re.search(r"SameSite=strict", cookie, re.IGNORECASE)
    session_id = response.cookies["conveyor_session"]
    assert key not in cookie and session_id != key and len(session_id) >= 40
    # And PostgreSQL keeps the id's hash only, tied to the key's row
    conn = await connect(shared_system.settings.database_url)
    try:
        principal = await keys.find_principal(conn, key)
        rows = await conn.fetch("SELECT * FROM ui_sessions WHERE key_id = $1", principal and principal.key_id)
    finally:
        await conn.close()
    assert [row["id_hash"] for row in rows] == [hashlib.sha256(session_id.encode()).digest()]
    assert all(session_id not in str(value) and key not in str(value) for value in dict(rows[0]).values())


async def test_ui_sign_in_refuses_a_wrong_key(shared_system: System) -> None:
    # When a browser signs in with a key that does not exist
    async with httpx.AsyncClient(base_url=shared_system.base_url) as client:
        response = await sign_in_form(client, "cvk_not-a-key")

    # Then the form says so, and no session starts
    assert response.status_code == 401 and "invalid or revoked API key" in response.text
    assert "conveyor_session" not in client.cookies


async def test_ui_sign_in_from_another_site_is_refused(shared_system: System, key: str) -> None:
    # When a page of another site posts the sign-in form (the browser sends no SameSite=Strict cookie)
    async with httpx.AsyncClient(base_url=shared_system.base_url) as client:
        response = await client.post("/ui/sign-in", data={"api_key": key, "next_url": "/ui", "_csrf": "guessed"})

    # Then no session starts
    assert response.status_code == 403 and "the form expired" in response.text
    assert "conveyor_session" not in client.cookies


async def test_ui_pages_need_a_session(shared_system: System, key: str) -> None:
    # When a page is asked for without a session, or with a bearer key instead
    async with httpx.AsyncClient(base_url=shared_system.base_url) as client:
        anonymous = await client.get("/ui/jobs?status=failed")
        bearer = await client.get("/ui/jobs", headers={"Authorization": f"Bearer {key}"})

    # Then both go to the sign-in form, which comes back to the page asked for
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/ui/sign-in?next_url=%2Fui%2Fjobs%3Fstatus%3Dfailed"
    assert bearer.status_code == 303


async def test_ui_revoked_key_ends_its_session(shared_system: System, key: str, session: httpx.AsyncClient) -> None:
    # Given a signed-in session
    assert (await session.get("/ui")).status_code == 200

    # When its key is revoked
    conn = await connect(shared_system.settings.database_url)
    try:
        principal = await keys.find_principal(conn, key)
        assert principal is not None
        await keys.revoke_key(conn, principal.key_id)
    finally:
        await conn.close()

    # Then its next page goes to the sign-in form, and the stream no longer opens
    assert (await session.get("/ui")).status_code == 303
    assert (await session.get("/v1/events/stream")).status_code == 401


async def test_ui_sign_out_needs_the_csrf_token_and_forgets_the_session(session: httpx.AsyncClient) -> None:
    # Given a signed-in session
    token = await csrf_token(session)
    session_id = session.cookies["conveyor_session"]

    # When another site makes the browser post a sign-out without the token
    forged = await session.post("/ui/sign-out", data={})

    # Then it is refused and the session lives on
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    assert (await session.get("/ui")).status_code == 200

    # When the session's own form signs out
    signed_out = await session.post("/ui/sign-out", data={"_csrf": token})

    # Then the cookie is cleared and the old session id no longer works
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/ui/sign-in"
    assert 'conveyor_session=""' in signed_out.headers["set-cookie"] or "Max-Age=0" in signed_out.headers["set-cookie"]
    async with httpx.AsyncClient(base_url=str(session.base_url), cookies={"conveyor_session": session_id}) as old:
        assert (await old.get("/ui")).status_code == 303


async def test_ui_session_reads_the_stream_but_not_the_api(session: httpx.AsyncClient) -> None:
    # When a session (no bearer key) opens the event stream
    async with session.stream("GET", "/v1/events/stream") as stream:
        # Then it is served, as to a key
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")

    # And an artifact's bytes are looked up for the session's tenant (this job is none of its)
    missing = await session.get(f"/v1/jobs/{uuid.uuid4()}/artifacts/cover.png")
    assert missing.status_code == 404 and missing.json()["error"] == "artifact_not_found"

    # But the rest of the API wants the key itself
    assert (await session.get("/v1/jobs")).status_code == 401
    assert (await session.post("/v1/jobs", json={"engine": "general", "operation": "echo"})).status_code == 401
