"""The view counter: atomic increments under real concurrency (uvicorn + PostgreSQL)."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import LiveServer, Postgres, sample_resume

N = 200


def test_views_get_and_increment(client: httpx.Client) -> None:
    rid = client.post("/api/resumes", json=sample_resume()).json()["id"]
    assert client.get(f"/api/resumes/{rid}/views").json() == {"resume_id": rid, "views": 0}
    assert client.post(f"/api/resumes/{rid}/views").json() == {"resume_id": rid, "views": 1}
    assert client.post(f"/api/resumes/{rid}/views").json()["views"] == 2
    assert client.get(f"/api/resumes/{rid}/views").json()["views"] == 2
    assert client.get(f"/api/resumes/{rid}").json()["views"] == 2


def test_concurrent_increments_lose_nothing(
    client: httpx.Client, server: LiveServer, pg: Postgres
) -> None:
    rid = client.post("/api/resumes", json=sample_resume()).json()["id"]
    before = client.get(f"/api/resumes/{rid}/views").json()["views"]

    async def fire() -> list[int]:
        limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as ac:
            start = asyncio.Event()

            async def one() -> int:
                await start.wait()
                resp = await ac.post(f"/api/resumes/{rid}/views")
                assert resp.status_code == 200, resp.text
                return int(resp.json()["views"])

            tasks = [asyncio.create_task(one()) for _ in range(N)]
            await asyncio.sleep(0.05)
            start.set()
            return await asyncio.gather(*tasks)

    counts = asyncio.run(fire())
    after = client.get(f"/api/resumes/{rid}/views").json()["views"]
    assert after == before + N
    # Every request saw a distinct value: each increment was applied exactly once.
    assert sorted(counts) == list(range(before + 1, before + N + 1))
    stored = pg.fetch("SELECT views FROM resumes WHERE id = $1", rid)[0]["views"]
    assert stored == before + N
    # The app's pool let several connections race (pool_size 20 in the tests).
    app_conns = pg.fetch(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'resume_service'"
        " AND datname = current_database()"
    )[0]["n"]
    assert app_conns > 1, "expected more than one pooled connection after a burst"
