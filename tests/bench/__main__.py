"""`make bench`: Conveyor's throughput and latency, beside bare Dramatiq on the same broker.

Prints, in one run: HTTP submit rate (single and batch), end-to-end jobs/s of general.echo
(submitted → succeeded in PostgreSQL) with 1 and 2 worker processes, submit-to-start latency
on an idle system, a bare Dramatiq no-op drain with the same processes and threads, a
1,000-node fan-out/fan-in workflow beside the same jobs submitted independently, and
GET /v1/stats latency with 1,000,000 finished jobs (and their rollups) in the table, and the
lag of 200 Server-Sent Events subscribers while about 500 jobs/s finish, and each operation's
run time on a typical input.
Figures vary from run to run on shared machines; compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from infra.db import drop_database
from tests.bench import http_load, operations_load, stats_load, streams_load
from tests.support.system import System, base_settings, clone_database, create_template, eventually

ECHO = {"engine": "general", "operation": "echo", "params": {"value": 1}}
THREADS = 8
#: A concurrency limit no drain reaches: what enforcing a limit costs, and nothing else.
LIMIT_HIGH = 1000


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Bench:
    """Systems on fresh databases, one per measurement."""

    def __init__(self, jobs: int, workdir: Path) -> None:
        self.jobs = jobs
        self.workdir = workdir
        self.settings = base_settings()
        self.template = ""
        self.databases: list[str] = []

    async def system(self, name: str) -> System:
        url = await clone_database(self.template, f"conveyor_bench_{secrets.token_hex(4)}")
        self.databases.append(url)
        return System.create(self.settings, url, self.workdir / name, worker_threads=THREADS)

    async def submit_rates(self) -> dict[str, float]:
        """Single submissions over 1 and 32 keep-alive connections, then batches of 500."""
        system = await self.system("submit")
        system.start_gateway()
        try:
            key = await system.api_key("bench")
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            single = http_load.prepare("POST", "/v1/jobs", json.dumps(ECHO).encode(), headers)
            batch = http_load.prepare("POST", "/v1/jobs/batch", json.dumps({"jobs": [ECHO] * 500}).encode(), headers)
            port = system.settings.gateway_port
            await http_load.run("127.0.0.1", port, single, total=200, connections=4, expect=202)  # warm up
            figures = {
                "single_1_per_s": await http_load.run("127.0.0.1", port, single, total=1000, connections=1, expect=202),
                "single_32_per_s": await http_load.run(
                    "127.0.0.1", port, single, total=3000, connections=32, expect=202
                ),
                "batch_per_s": 500
                * await http_load.run(
                    "127.0.0.1", port, batch, total=max(self.jobs // 500, 6), connections=2, expect=202
                ),
            }
            figures["gateway_peak_mb"] = peak_rss_mb(system.processes["gateway"].pid) or 0.0
        finally:
            system.close()
        return figures

    async def drain(self, processes: int, *, limit: int | None = None) -> dict[str, float]:
        """A backlog of echo jobs drained by `processes` worker processes of 8 threads (under a
        concurrency limit on their queue, if given: what the limit's bookkeeping costs)."""
        system = await self.system(f"drain{processes}" + ("" if limit is None else f"_limit{limit}"))
        system.start_gateway()
        try:
            async with system.client(await system.api_key("bench")) as http:
                if limit is not None:
                    response = await http.put("/v1/queues/general/limits", json={"max_concurrency": limit})
                    assert response.status_code == 200, response.text
                for _ in range(self.jobs // 500):
                    response = await http.post("/v1/jobs/batch", json={"jobs": [ECHO] * 500})
                    assert response.status_code == 202, response.text
            for index in range(processes):
                system.start_worker(f"worker{index}", queues=["general"], threads=THREADS)
            pool = await system.pool()
            try:

                async def drained() -> bool:
                    return bool(await pool.fetchval("SELECT count(*) = 0 FROM jobs WHERE status <> 'succeeded'"))

                await eventually(drained, timeout=600, interval=0.2, message="the backlog to drain")
                first, last, count = await pool.fetchrow("SELECT min(started_at), max(finished_at), count(*) FROM jobs")
            finally:
                await pool.close()
            peaks = [peak_rss_mb(system.processes[f"worker{i}"].pid) or 0.0 for i in range(processes)]
        finally:
            system.close()
        seconds = (last - first).total_seconds()
        return {"jobs": count, "seconds": seconds, "per_s": count / seconds, "worker_peak_mb": max(peaks)}

    async def latency(self, samples: int = 200) -> dict[str, float]:
        """Submit-to-start on an idle system: one job at a time, time from send to started_at."""
        system = await self.system("latency")
        system.start_all(threads=THREADS)
        delays = []
        try:
            async with system.client(await system.api_key("bench")) as http:
                for _ in range(samples + 10):
                    sent = time.time()
                    job = (await http.post("/v1/jobs", json=ECHO)).json()
                    while (seen := (await http.get(f"/v1/jobs/{job['id']}")).json())["status"] != "succeeded":  # noqa: ASYNC110
                        await asyncio.sleep(0.002)
                    delays.append((datetime.fromisoformat(seen["started_at"]).timestamp() - sent) * 1000)
        finally:
            system.close()
        delays = sorted(delays[10:])  # the first ones warm connections and prepared statements
        return {
            "p50_ms": statistics.median(delays),
            "p99_ms": delays[int(len(delays) * 0.99) - 1],
            "samples": len(delays),
        }

    async def workflows(self, nodes: int = 1000) -> dict[str, float]:
        """A fan-out/fan-in workflow of `nodes` jobs, as plain nodes and as one for_each node,
        beside the same number of echo jobs submitted independently in one batch."""
        system = await self.system("workflows")
        system.start_all(threads=THREADS)
        width = nodes - 2
        plain = [_echo("root", list(range(width)))]
        plain += [_echo(f"n{i}", {"$ref": f"root.result.value.{i}"}, "root") for i in range(width)]
        plain += [
            _echo("join", [{"$ref": f"n{i}.result.value"} for i in range(width)], *[f"n{i}" for i in range(width)])
        ]
        fan = [
            _echo("root", list(range(width))),
            {**_echo("each", {"$ref": "$item"}, "root"), "for_each": "root.result.value"},
            _echo("join", {"$ref": "each.result"}, "each"),
        ]
        try:
            pool = await system.pool()
            async with system.client(await system.api_key("bench")) as http:
                await self._batch_seconds(http, pool, 200)  # warm up
                figures = {
                    "independent_s": await self._batch_seconds(http, pool, nodes),
                    "plain_nodes_s": await self._workflow_seconds(http, pool, plain),
                    "for_each_s": await self._workflow_seconds(http, pool, fan),
                }
            await pool.close()
        finally:
            system.close()
        for kind in ("plain_nodes", "for_each"):
            figures[f"{kind}_overhead_ms_per_node"] = (figures[f"{kind}_s"] - figures["independent_s"]) * 1000 / nodes
        return figures

    @staticmethod
    async def _batch_seconds(http: httpx.AsyncClient, pool: asyncpg.Pool, count: int) -> float:
        started = time.time()
        response = await http.post("/v1/jobs/batch", json={"jobs": [ECHO] * count})
        assert response.status_code == 202, response.text
        ids = [job["id"] for job in response.json()["jobs"]]

        async def finished() -> float | None:
            row = await pool.fetchrow(
                "SELECT count(*) FILTER (WHERE status = 'succeeded') AS done, max(finished_at) AS last"
                " FROM jobs WHERE id = ANY($1::uuid[])",
                ids,
            )
            return row["last"].timestamp() if row["done"] == count else None

        return float(await eventually(finished, timeout=600, interval=0.1, message="the batch")) - started

    @staticmethod
    async def _workflow_seconds(http: httpx.AsyncClient, pool: asyncpg.Pool, nodes: list[dict[str, Any]]) -> float:
        started = time.time()
        response = await http.post("/v1/workflows", json={"name": "bench", "nodes": nodes})
        assert response.status_code == 202, response.text
        workflow_id = response.json()["id"]

        async def finished() -> float | None:
            row = await pool.fetchrow("SELECT status, finished_at FROM workflows WHERE id = $1", workflow_id)
            if row["finished_at"] is None:
                return None
            assert row["status"] == "succeeded", row
            return float(row["finished_at"].timestamp())

        return float(await eventually(finished, timeout=600, interval=0.1, message="the workflow")) - started

    async def stats(self, jobs: int = 1_000_000, samples: int = 200) -> dict[str, Any]:
        """GET /v1/stats p50/p95 with `jobs` finished jobs over seven days: the default (1h per
        queue), a day per operation, and team analytics (7d per tenant, all tenants)."""
        system = await self.system("stats")
        pool = await system.pool()
        try:
            async with pool.acquire() as conn:
                figures: dict[str, Any] = {"jobs": jobs, "fill_s": await stats_load.fill(conn, jobs)}
        finally:
            await pool.close()
        system.start_gateway()
        try:
            async with system.client(await system.api_key("bench")) as http:
                for name, params in [
                    ("default", {}),
                    ("day_per_operation", {"window": "24h", "group_by": "operation"}),
                    ("team_analytics", {"window": "7d", "group_by": "tenant"}),
                ]:
                    figures[name] = await stats_load.latencies(http, params, samples)
        finally:
            system.close()
        return figures

    async def streams(self) -> dict[str, Any]:
        """200 SSE subscribers of one gateway while echo jobs finish at about 500 per second
        (two worker processes): every subscriber following one tenant's every event, then 20
        tenants of 10 subscribers each; lag from each event's created_at to its receipt."""
        system = await self.system("streams")
        system.start_all(threads=THREADS)
        system.start_worker("worker2", queues=["general"], threads=THREADS)
        try:
            figures: dict[str, Any] = {}
            for name, tenants in (("one_tenant", 1), ("tenants_20", 20)):
                keys = [await system.api_key(f"{name}-{i}") for i in range(tenants)]
                figures[name] = await streams_load.measure(system.base_url, keys)
            figures["gateway_peak_mb"] = peak_rss_mb(system.processes["gateway"].pid) or 0.0
        finally:
            system.close()
        return figures

    def bare(self, processes: int) -> dict[str, float]:
        """Bare Dramatiq draining the same number of no-op messages."""
        queue = f"bench_bare_{secrets.token_hex(3)}"
        argv = [
            sys.executable,
            "-m",
            "tests.bench.bare_dramatiq",
            "--url",
            self.settings.rabbitmq_url,
            "--queue",
            queue,
        ]
        argv += ["--processes", str(processes), "--threads", str(THREADS), "--jobs", str(self.jobs)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600)
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        _delete_queue(self.settings.rabbitmq_url, queue)
        return result


def _echo(key: str, value: Any, *deps: str) -> dict[str, Any]:
    return {"key": key, "engine": "general", "operation": "echo", "params": {"value": value}, "depends_on": list(deps)}


def _delete_queue(url: str, queue: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
    finally:
        connection.close()


async def run(
    jobs: int,
    *,
    only_workflows: bool = False,
    only_stats: bool = False,
    only_streams: bool = False,
    only_operations: bool = False,
) -> None:
    """Every measurement (or only the workflow, the stats, the stream or the operation ones),
    then the table."""
    figures: dict[str, Any] = {}
    if only_operations:
        print_operations(operations_load.measure())
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        bench = Bench(jobs, Path(tmp))
        bench.template = await create_template(bench.settings, f"conveyor_bench_template_{secrets.token_hex(3)}")
        try:
            if not (only_workflows or only_stats or only_streams):
                figures["submit"] = await bench.submit_rates()
                figures["drain"] = {p: await bench.drain(p) for p in (1, 2)}
                figures["drain_limited"] = await bench.drain(1, limit=LIMIT_HIGH)
                figures["bare_dramatiq"] = {p: bench.bare(p) for p in (1, 2)}
                figures["latency"] = await bench.latency()
            if not (only_stats or only_streams):
                figures["workflows"] = await bench.workflows()
            if not (only_workflows or only_streams):
                figures["stats"] = await bench.stats()
            if not (only_workflows or only_stats):
                figures["streams"] = await bench.streams()
        finally:
            for url in [*bench.databases, bench.template]:
                await drop_database(url)
    if not (only_workflows or only_stats or only_streams):
        figures["operations"] = operations_load.measure()
    print(f"\nConveyor benchmark — {jobs} jobs per drain, worker threads {THREADS}\n")
    if "drain" in figures:
        print_jobs(figures)
    if "workflows" in figures:
        print_workflows(figures["workflows"])
    if "stats" in figures:
        print_stats(figures["stats"])
    if "streams" in figures:
        print_streams(figures["streams"])
    if "operations" in figures:
        print_operations(figures["operations"])
    print(json.dumps(figures))


def print_jobs(figures: dict[str, Any]) -> None:
    """The job-path rows of the table."""
    submit, drains, bare, latency = (figures[k] for k in ("submit", "drain", "bare_dramatiq", "latency"))
    print(f"HTTP submit, single, 1 connection            {submit['single_1_per_s']:8.0f} jobs/s")
    print(f"HTTP submit, single, 32 connections          {submit['single_32_per_s']:8.0f} jobs/s")
    print(f"HTTP submit, batches of 500                  {submit['batch_per_s']:8.0f} jobs/s")
    print(f"gateway peak RSS                             {submit['gateway_peak_mb']:8.0f} MiB")
    for p in (1, 2):
        ratio = drains[p]["per_s"] / bare[p]["jobs_per_second"]
        print(
            f"drain general.echo, {p} process(es) × {THREADS}       {drains[p]['per_s']:8.0f} jobs/s   "
            f"bare Dramatiq no-op {bare[p]['jobs_per_second']:8.0f} jobs/s   ratio {ratio:4.2f}   "
            f"worker peak RSS {drains[p]['worker_peak_mb']:.0f} MiB"
        )
    limited = figures["drain_limited"]
    print(
        f"drain, 1 × {THREADS}, queue limit {LIMIT_HIGH} (never reached)   {limited['per_s']:8.0f} jobs/s   "
        f"ratio to no limit {limited['per_s'] / drains[1]['per_s']:4.2f}"
    )
    print(
        f"submit → start, idle system                  p50 {latency['p50_ms']:.1f} ms   "
        f"p99 {latency['p99_ms']:.1f} ms   ({latency['samples']} jobs)"
    )


def print_workflows(flows: dict[str, float]) -> None:
    """The workflow rows of the table."""
    print(f"1,000 echo jobs, independent (one batch)     {flows['independent_s']:8.2f} s")
    for kind, label in (
        ("plain_nodes", "1,000-node workflow, plain nodes"),
        ("for_each", "1,000-job workflow, for_each"),
    ):
        print(
            f"{label:<44} {flows[f'{kind}_s']:8.2f} s   DAG overhead "
            f"{flows[f'{kind}_overhead_ms_per_node']:.2f} ms per node"
        )


def print_stats(figures: dict[str, Any]) -> None:
    """The stats rows of the table (target: p95 under 50 ms)."""
    print(f"{figures['jobs']:,} finished jobs and their rollups written in   {figures['fill_s']:8.1f} s")
    for name, label in (
        ("default", "GET /v1/stats (1h per queue)"),
        ("day_per_operation", "GET /v1/stats (24h per operation)"),
        ("team_analytics", "GET /v1/stats (7d per tenant, admin)"),
    ):
        f = figures[name]
        print(f"{label:<44} p50 {f['p50_ms']:.1f} ms   p95 {f['p95_ms']:.1f} ms   (target p95 < 50 ms)")


def print_streams(figures: dict[str, Any]) -> None:
    """The stream rows of the table (target: p99 lag under 250 ms)."""
    for name, label in (("one_tenant", "each gets every event"), ("tenants_20", "20 tenants × 10")):
        f = figures[name]
        print(
            f"{f['subscribers']} SSE subscribers, {label:<22} {f['finished_per_s']:5.0f} jobs/s finishing   "
            f"lag p50 {f['lag_p50_ms']:.0f} ms   p99 {f['lag_p99_ms']:.0f} ms   max {f['lag_max_ms']:.0f} ms   "
            f"(target p99 < 250 ms)"
        )
        print(
            f"  events received {f['events_received']:,} of {f['events_expected']:,} due "
            f"({f['subscribers_short']} subscribers short)"
        )
    print(f"gateway peak RSS with 200 streams                {figures['gateway_peak_mb']:8.0f} MiB")


def print_operations(rows: list[dict[str, Any]]) -> None:
    """The per-operation rows: run times in the worker's process, without queue or database."""
    print("operation run times (in process; p50 / p95 of up to 20 runs or 10 s, and the first run)")
    for row in rows:
        print(
            f"  {row['operation']:<38} {row['input']:<50} p50 {row['p50_ms']:8.2f} ms   "
            f"p95 {row['p95_ms']:8.2f} ms   runs {row['runs']:>3}   first {row['first_ms']:8.1f} ms"
        )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--jobs", type=int, default=5000, help="jobs per drain (default 5000)")
    parser.add_argument("--only-workflows", action="store_true", help="measure only the workflow figures")
    parser.add_argument("--only-stats", action="store_true", help="measure only GET /v1/stats over 1,000,000 jobs")
    parser.add_argument(
        "--only-streams", action="store_true", help="measure only 200 SSE subscribers while jobs finish"
    )
    parser.add_argument(
        "--only-operations", action="store_true", help="measure only each operation's run time, in this process"
    )
    args = parser.parse_args()
    asyncio.run(
        run(
            args.jobs,
            only_workflows=args.only_workflows,
            only_stats=args.only_stats,
            only_streams=args.only_streams,
            only_operations=args.only_operations,
        )
    )


if __name__ == "__main__":
    main()
