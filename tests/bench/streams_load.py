"""Stream load: many Server-Sent Events subscribers of one gateway while jobs finish steadily.

The subscribers run in a few client processes of their own (`python -m tests.bench.streams_load
--client …`), each reading its streams over plain sockets (HTTP/1.0, so the body is the event
stream itself) and timing every event from its `created_at` (written in the transaction that
made it) to its receipt: the events that arrive in one read of the socket are all charged the lag
of the oldest of them (an upper bound that keeps the clients' own work small). Each process
reports a histogram of those lags (1 ms buckets) and how many events it received; the bench
merges them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

CREATED = b'"created_at":"'
#: How a client process is given the API key (not on its command line, which `ps` shows).
KEY_VARIABLE = "BENCH_STREAMS_KEY"


async def subscriber(host: str, port: int, key: str, ready: asyncio.Event, lags: Counter[int]) -> tuple[int, int]:
    """Follow the stream (setting `ready` once subscribed) until the last event id the bench
    names (STOP); (events received, highest id)."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET /v1/events/stream HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    buffer, received, last_id = b"", 0, 0
    await reader.readuntil(b"\n\n")  # the opening comment: subscribed
    ready.set()
    while last_id < STOP.target:
        chunk = await reader.read(1 << 20)
        if not chunk:
            break
        now = time.time()
        buffer += chunk
        end = buffer.rfind(b"\n\n") + 2
        complete, buffer = buffer[:end], buffer[end:]
        frames = complete.count(b"\nevent: ")
        if not frames:
            continue  # keep-alive comments, or half a frame
        received += frames
        # every event read at once is charged the lag of the oldest among them
        start = complete.index(CREATED) + len(CREATED)
        created = datetime.fromisoformat(complete[start : complete.index(b'"', start)].decode()).timestamp()
        lags[max(0, int((now - created) * 1000))] += frames
        tail = (b"\n\n" + complete).rfind(b"\n\nid: ") + 4
        last_id = int(complete[tail : complete.index(b"\n", tail)])
    writer.close()
    return received, last_id


class Stop:
    """The last event id the subscribers wait for (unbounded until the bench says)."""

    target: float = float("inf")


STOP = Stop()


async def client(host: str, port: int, key: str, count: int) -> None:
    """`count` subscribers; prints `ready`, then waits for the last event id on stdin, then its figures."""
    lags: Counter[int] = Counter()
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(subscriber(host, port, key, ready, lags)) for ready in readies]
    for ready in readies:
        await ready.wait()
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    STOP.target = int(line)
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    print(json.dumps({"received": [r for r, _ in results], "lags": {str(k): v for k, v in lags.items()}}))


def quantile(histogram: Counter[int], q: float) -> float:
    """The q-quantile (0…1) of a histogram of milliseconds."""
    total, seen = sum(histogram.values()), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= q * total:
            return float(value)
    return float("nan")


async def measure(
    base_url: str, key: str, gateway_pid: int, *, subscribers: int = 200, processes: int = 4, rate: int = 500,
    seconds: float = 10.0, rss: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """`subscribers` SSE streams while `rate` echo jobs per second are submitted for `seconds`;
    lag percentiles, events received, the finish rate reached and the gateway's peak RSS."""
    host, port = base_url.removeprefix("http://").split(":")
    argv = [sys.executable, "-m", "tests.bench.streams_load", "--client", host, port, str(subscribers // processes)]
    env = {**os.environ, KEY_VARIABLE: key}
    pipe = asyncio.subprocess.PIPE
    clients = [await asyncio.create_subprocess_exec(*argv, stdin=pipe, stdout=pipe, env=env) for _ in range(processes)]
    for process in clients:
        assert process.stdout is not None and (await process.stdout.readline()).strip() == b"ready"
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        started, ids = await _submit_steadily(http, rate, seconds)
        finished = await _wait_finished(http, ids)
        logged, last = await _logged(http)
    results = []
    for process in clients:
        out, _ = await asyncio.wait_for(process.communicate(f"{last}\n".encode()), 180)
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    lags: Counter[int] = Counter()
    for result in results:
        lags.update({int(k): v for k, v in result["lags"].items()})
    return {
        "subscribers": subscribers,
        "jobs": len(ids),
        "finished_per_s": len(ids) / (finished - started),
        "events_logged": logged,
        "events_received": sum(sum(r["received"]) for r in results),
        "events_received_least": min(min(r["received"]) for r in results),
        "lag_p50_ms": quantile(lags, 0.50),
        "lag_p99_ms": quantile(lags, 0.99),
        "lag_max_ms": float(max(lags)) if lags else float("nan"),
        "gateway_peak_mb": rss(gateway_pid) if rss else 0.0,
    }


async def _submit_steadily(http: httpx.AsyncClient, rate: int, seconds: float) -> tuple[float, list[str]]:
    """Batches of rate/10 echo jobs every 100 ms; (when it began, the job ids)."""
    batch = {"jobs": [{"engine": "general", "operation": "echo", "params": {"value": 1}}] * max(1, rate // 10)}
    ids: list[str] = []
    started = next_at = time.time()
    while next_at < started + seconds:
        response = await http.post("/v1/jobs/batch", json=batch)
        assert response.status_code == 202, response.text
        ids += [job["id"] for job in response.json()["jobs"]]
        next_at += 0.1
        await asyncio.sleep(max(0.0, next_at - time.time()))
    return started, ids


async def _wait_finished(http: httpx.AsyncClient, ids: list[str]) -> float:
    """When the last of `ids` succeeded (polling its job)."""
    deadline = time.time() + 300
    while time.time() < deadline:
        job = (await http.get(f"/v1/jobs/{ids[-1]}")).json()
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
    """A client process (`--client HOST PORT COUNT`, the key in BENCH_STREAMS_KEY)."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.streams_load")
    parser.add_argument("--client", nargs=3, metavar=("HOST", "PORT", "COUNT"), required=True)
    host, port, count = parser.parse_args().client
    asyncio.run(client(host, int(port), os.environ[KEY_VARIABLE], int(count)))


if __name__ == "__main__":
    main()
