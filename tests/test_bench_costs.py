"""The cost benchmark's parts that need no server: its client, and the answers it sends (each one new,
so that every calculator page misses the cache, and each one valid)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from bench.costs import crs_bodies, crs_queries, json_post, send_all
from haven.checker.calculators import CRS_CALCULATOR
from haven.checker.explain import WORDS
from haven.checker.schemas import CrsIn


def test_the_calculator_answers_are_all_new_and_valid() -> None:
    queries = [tuple(sorted(q.items())) for q in crs_queries()]
    assert len(queries) == len(set(queries)) >= 3000
    for answers in itertools.islice(crs_queries(), 0, None, 500):
        assert not CRS_CALCULATOR.read(answers, WORDS["en"]).errors, answers


def test_the_api_bodies_are_all_new_and_valid() -> None:
    bodies = [json.dumps(body, sort_keys=True) for body in itertools.islice(crs_bodies(), 6500)]
    assert len(bodies) == len(set(bodies)) >= 6100
    for body in itertools.islice(crs_bodies(), 0, None, 700):
        CrsIn.model_validate(body)


async def answering(statuses: list[bytes]) -> tuple[asyncio.Server, int]:
    """A tiny keep-alive HTTP server answering each request with the next canned response."""
    answers = itertools.cycle(statuses)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(next(answers))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_the_client_counts_statuses_and_tickets_and_keeps_its_pace() -> None:
    waiting = b"HTTP/1.1 503 Busy\r\nSet-Cookie: haven_ticket=t.1; Path=/\r\nContent-Length: 4\r\n\r\nwait"
    shed = b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    server, port = await answering([waiting, shed, chunked])
    async with server:
        requests = [json_post(port, "/api/v1/crs", {"age": n}) for n in range(30)]
        started = time.perf_counter()
        answers = await send_all(port, requests, connections=1, rate=100.0)
        elapsed = time.perf_counter() - started
    assert answers.statuses == {503: 20, 200: 10}
    assert answers.tickets == 10
    assert elapsed >= 0.29  # request i waits for i / rate seconds
