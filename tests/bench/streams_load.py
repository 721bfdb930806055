"""Stream load: many Server-Sent Events subscribers of one gateway while jobs finish steadily.

With one tenant every subscriber receives every event (the harshest case: 200 × 1,500 events/s
through one process); with several, each follows its own tenant's share.

The subscribers run in a few client processes of their own (`python -m tests.bench.streams_load
--client …`), each reading its streams over plain sockets (HTTP/1.0, so the body is the event
stream itself) and timing every event from its own `created_at` (the event's, last in its frame,
not the job's inside `data`: the start of the transaction that wrote it, so a little before its
commit) to the read of the socket that brought it. Each process reports a histogram of those
lags (1 ms buckets) and how many events it received; the bench merges them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

#: The event's own created_at: the last field of its JSON, which ends the frame.
CREATED = re.compile(rb'"created_at":"([^"]+)"\}\n\n')
#: How a client process is given the API keys (not on its command line, which `ps` shows).
KEYS_VARIABLE = "BENCH_STREAMS_KEYS"


class Stop:
    """The last event id of each tenant, which its subscribers wait for (none until the bench says)."""

    targets: list[int] | None = None
    given = asyncio.Event()


async def subscriber(host: str, port: int, key: str, tenant: int, ready: asyncio.Event, lags: Counter[int]) -> int:
    """Follow one stream (setting `ready` once subscribed) until its tenant's last event id the
    bench names; how many events it received."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET /v1/events/stream HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    buffer, received, last_id = b"", 0, 0
    await reader.readuntil(b"\n\n")  # the first comment: subscribed
    ready.set()
    while STOP.targets is None or last_id < STOP.targets[tenant]:
        chunk = await reader.read(1 << 20)
        if not chunk:
            break
        now = time.time()
        buffer += chunk
        end = buffer.rfind(b"\n\n")
        if end < 0:
            continue  # half a frame
        complete, buffer = buffer[: end + 2], buffer[end + 2 :]
        frames = 0
        for created, count in Counter(CREATED.findall(complete)).items():  # events of one commit share it
            lags[max(0, int((now - datetime.fromisoformat(created.decode()).timestamp()) * 1000))] += count
            frames += count
        if not frames:
            continue  # keep-alive comments
        received += frames
        tail = (b"\n\n" + complete).rfind(b"\n\nid: ") + 4
        last_id = int(complete[tail : complete.index(b"\n", tail)])
    writer.close()
    return received


STOP = Stop()


async def client(host: str, port: int, keys: list[str], first: int, count: int) -> None:
    """Subscribers `first` … `first + count - 1` (subscriber i of tenant i mod len(keys)); prints
    `ready`, reads the tenants' last event ids (JSON) from stdin, then prints its figures."""
    lags: Counter[int] = Counter()
    tenants = [i % len(keys) for i in range(first, first + count)]
    readies = [asyncio.Event() for _ in tenants]
    tasks = [
        asyncio.create_task(subscriber(host, port, keys[t], t, ready, lags))
        for t, ready in zip(tenants, readies, strict=True)
    ]
    for ready in readies:
        await ready.wait()
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    STOP.targets = json.loads(line)
    received = await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    print(json.dumps({"received": list(zip(tenants, received, strict=True)), "lags": dict(lags)}))


def quantile(histogram: Counter[int], q: float) -> float:
    """The q-quantile (0…1) of a histogram of milliseconds."""
    total, seen = sum(histogram.values()), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= q * total:
            return float(value)
    return float("nan")


async def measure(
    base_url: str, keys: list[str], *, subscribers: int = 200, processes: int = 4, rate: int = 500,
    seconds: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    """`subscribers` SSE streams, spread over the tenants of `keys`, while `rate` echo jobs per
    second are submitted for `seconds` (batches taking turns among the tenants): lag
    percentiles, events received beside those logged, and the finish rate reached."""
    host, port = base_url.removeprefix("http://").split(":")
    env = {**os.environ, KEYS_VARIABLE: ",".join(keys)}
    share = subscribers // processes
    pipe = asyncio.subprocess.PIPE
    clients = []
    for index in range(processes):
        argv = [
            sys.executable,
            "-m",
            "tests.bench.streams_load",
            "--client",
            host,
            port,
            str(index * share),
            str(share),
        ]
        clients.append(await asyncio.create_subprocess_exec(*argv, stdin=pipe, stdout=pipe, env=env))
    for process in clients:
        assert process.stdout is not None and (await process.stdout.readline()).strip() == b"ready"
    https = [httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {k}"}, timeout=60) for k in keys]
    try:
        started, last_jobs = await _submit_steadily(https, rate, seconds)
        finished = max([await _finished_at(http, job) for http, job in zip(https, last_jobs, strict=True)])
        logged = [await _logged(http) for http in https]
    finally:
        for http in https:
            await http.aclose()
    results = []
    for process in clients:
        out, _ = await asyncio.wait_for(process.communicate(json.dumps([last for _, last in logged]).encode()), 180)
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    lags: Counter[int] = Counter()
    for result in results:
        lags.update({int(k): v for k, v in result["lags"].items()})
    received = [(tenant, count) for result in results for tenant, count in result["received"]]
    return {
        "subscribers": subscribers,
        "tenants": len(keys),
        "jobs": sum(count for count, _ in logged) // 3,
        "finished_per_s": sum(count for count, _ in logged) / 3 / (finished - started),
        "events_logged": sum(count for count, _ in logged),
        "events_expected": sum(logged[tenant][0] for tenant, _ in received),
        "events_received": sum(count for _, count in received),
        "subscribers_short": sum(1 for tenant, count in received if count < logged[tenant][0]),
        "lag_p50_ms": quantile(lags, 0.50),
        "lag_p99_ms": quantile(lags, 0.99),
        "lag_max_ms": float(max(lags)) if lags else float("nan"),
    }


async def _submit_steadily(https: list[httpx.AsyncClient], rate: int, seconds: float) -> tuple[float, list[str]]:
    """Batches of rate/10 echo jobs every 100 ms, the tenants taking turns; (when it began, the
    last job id of each tenant)."""
    batch = {"jobs": [{"engine": "general", "operation": "echo", "params": {"value": 1}}] * max(1, rate // 10)}
    last = [""] * len(https)
    started = next_at = time.time()
    turn = 0
    while next_at < started + seconds:
        response = await https[turn % len(https)].post("/v1/jobs/batch", json=batch)
        assert response.status_code == 202, response.text
        last[turn % len(https)] = response.json()["jobs"][-1]["id"]
        turn += 1
        next_at += 0.1
        await asyncio.sleep(max(0.0, next_at - time.time()))
    return started, last


async def _finished_at(http: httpx.AsyncClient, job_id: str) -> float:
    """When the tenant's jobs (the last it submitted, and all before) have succeeded."""
    deadline = time.time() + 300
    while time.time() < deadline:
        job = (await http.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] == "succeeded":
            listing = await http.get("/v1/jobs", params={"status": ["queued", "running"], "limit": 1})
            if not listing.json()["items"]:
                return datetime.fromisoformat(job["finished_at"]).timestamp()
        await asyncio.sleep(0.1)
    raise AssertionError("the jobs did not finish")


async def _logged(http: httpx.AsyncClient) -> tuple[int, int]:
    """How many events the tenant's log holds, and the newest id."""
    after, last, count = 0, 0, 0
    while True:
        page = (await http.get("/v1/events", params={"after": after, "limit": 1000})).json()
        count += len(page["items"])
        if page["items"]:
            last = page["items"][-1]["id"]
        if page["next_after"] is None:
            return count, last
        after = page["next_after"]


def main() -> None:
    """A client process (`--client HOST PORT FIRST COUNT`, the keys in BENCH_STREAMS_KEYS)."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.streams_load")
    parser.add_argument("--client", nargs=4, metavar=("HOST", "PORT", "FIRST", "COUNT"), required=True)
    host, port, first, count = parser.parse_args().client
    asyncio.run(client(host, int(port), os.environ[KEYS_VARIABLE].split(","), int(first), int(count)))


if __name__ == "__main__":
    main()
