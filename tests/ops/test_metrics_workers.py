"""``/metrics`` with several workers: each publishes its figures, a scrape of any shows them all, and
a stale, torn or foreign file is left out rather than failing the scrape."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from haven.app import Haven, compose
from haven.ops.metrics import RequestMetrics
from haven.ops.peers import END, STALE_AFTER, WorkerFiles, merge, parse_file, split
from tests.conftest import make_settings
from tests.server import RunningServer, start_server
from tests.shield.gate_kit import stub
from tests.shield.redis_server import redis_server
from tests.visitor import started

ME = str(os.getpid())
SERVER = str(os.getppid())  # the workers' parent, as in a real server
PEER = "4242"


def samples(text: str) -> list[Sample]:
    """Every sample of an exposition, read by prometheus-client's own parser (which fails on bad text)."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def workers_in(text: str) -> set[str]:
    return {sample.labels["worker"] for sample in samples(text)}


def headers_once(text: str) -> bool:
    """Each family's HELP and TYPE lines appear once, however many workers report it."""
    headers = Counter(line for line in text.splitlines() if line.startswith(("# HELP ", "# TYPE ")))
    return bool(headers) and max(headers.values()) == 1


def peer_exposition(requests: int = 1, worker: str = PEER) -> str:
    """What another worker publishes: its own figures, labelled with its own id."""
    other = RequestMetrics()
    for _ in range(requests):
        other.observe("content", 200, 0.001)
    return other.exposition().replace(f'worker="{ME}"', f'worker="{worker}"')


def publish(folder: Path, exposition: str, worker: str = PEER, server: str = SERVER) -> Path:
    files = WorkerFiles(folder, worker=worker, server=server)
    files.write(exposition)
    return files.path


def requests_total(text: str, route: str) -> dict[str, float]:
    return {
        sample.labels["worker"]: sample.value
        for sample in samples(text)
        if sample.name == "haven_http_requests_total" and sample.labels["route"] == route
    }


# The merge ---------------------------------------------------------------------------------------


def test_a_workers_own_figures_carry_its_label_and_keep_their_names() -> None:
    metrics = RequestMetrics()
    metrics.observe("content", 200, 0.001)
    text = metrics.render().decode()
    names = {sample.name for sample in samples(text)}
    assert {"haven_http_requests_total", "haven_http_request_duration_seconds_bucket"} <= names
    assert {"haven_http_requests_in_flight", "process_resident_memory_bytes", "python_info"} <= names
    assert workers_in(text) == {ME}
    assert split(text) is not None  # laid out as the merge expects


def test_a_scrape_adds_the_other_workers_figures_with_each_family_described_once(tmp_path: Path) -> None:
    me = WorkerFiles(tmp_path, worker=ME, server=SERVER)
    publish(tmp_path, peer_exposition(requests=3))
    publish(tmp_path, peer_exposition(requests=2, worker="4343"), worker="4343")
    own = RequestMetrics()
    own.observe("content", 200, 0.001)
    families = split(own.exposition())
    assert families is not None
    text = merge([families, *me.others()])
    assert workers_in(text) == {ME, PEER, "4343"}
    assert requests_total(text, "content") == {ME: 1, PEER: 3, "4343": 2}
    assert headers_once(text)
    counts = [s for s in samples(text) if s.name == "haven_http_request_duration_seconds_count"]
    assert sorted(s.value for s in counts) == [1, 2, 3]


def test_a_stale_file_is_left_out_and_deleted(tmp_path: Path) -> None:
    me = WorkerFiles(tmp_path, worker=ME, server=SERVER)
    gone = publish(tmp_path, peer_exposition())
    long_ago = time.time() - STALE_AFTER - 1
    os.utime(gone, (long_ago, long_ago))
    assert me.others() == []
    assert not gone.exists()


def test_a_fresh_file_counts_until_it_is_stale(tmp_path: Path) -> None:
    me = WorkerFiles(tmp_path, worker=ME, server=SERVER)
    path = publish(tmp_path, peer_exposition())
    written = path.stat().st_mtime
    assert len(me.others(now=written + STALE_AFTER - 1)) == 1
    assert me.others(now=written + STALE_AFTER + 1) == []


def test_another_servers_workers_are_not_counted(tmp_path: Path) -> None:
    me = WorkerFiles(tmp_path, worker=ME, server=SERVER)
    publish(tmp_path, peer_exposition(), server="1")
    assert me.others() == []


def test_this_workers_own_file_is_not_read_twice(tmp_path: Path) -> None:
    me = WorkerFiles(tmp_path, worker=ME, server=SERVER)
    me.write(RequestMetrics().exposition())
    assert me.others() == []


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="cut short"),
        pytest.param(lambda text: text.removesuffix(END), id="no end mark"),
        pytest.param(lambda text: "\x00\x01 not metrics at all\n" + END, id="garbage"),
        pytest.param(lambda text: text.replace(" 1.0\n", " one\n", 1), id="a value that is no number"),
        pytest.param(lambda text: text.replace(f'worker="{PEER}"', 'worker="1"', 1), id="another worker"),
        pytest.param(lambda text: text.replace("# TYPE ", "# TYPO ", 1), id="no type line"),
        pytest.param(lambda text: text.replace("\n", "\n\n", 3), id="blank lines"),
    ],
)
def test_a_torn_or_garbled_file_is_left_out(tmp_path: Path, broken: Callable[[str], str]) -> None:
    whole = peer_exposition() + END
    assert parse_file(whole, worker=PEER) is not None
    assert parse_file(broken(whole), worker=PEER) is None
    (tmp_path / f"{SERVER}-{PEER}.prom").write_text(broken(whole))
    assert WorkerFiles(tmp_path, worker=ME, server=SERVER).others() == []


def test_a_file_that_is_not_text_is_left_out(tmp_path: Path) -> None:
    (tmp_path / f"{SERVER}-{PEER}.prom").write_bytes(b"\xff\xfe\x00garbage")
    assert WorkerFiles(tmp_path, worker=ME, server=SERVER).others() == []


def test_a_family_of_another_type_is_left_out_of_the_merge() -> None:
    mine = split('# HELP x_total Things.\n# TYPE x_total counter\nx_total{worker="1"} 1.0\n')
    theirs = split('# HELP x_total Things.\n# TYPE x_total gauge\nx_total{worker="2"} 5.0\n')
    assert mine is not None
    assert theirs is not None
    assert (
        merge([mine, theirs]) == '# HELP x_total Things.\n# TYPE x_total counter\nx_total{worker="1"} 1.0\n'
    )


# A worker of a running app -------------------------------------------------------------------------


@asynccontextmanager
async def worker_of_two(app: Haven, var_dir: Path) -> AsyncIterator[tuple[Haven, httpx.AsyncClient]]:
    """One worker of a server of two (the shield off, so no shared room is needed), started."""
    settings = make_settings(var_dir, HAVEN_WORKERS="2", HAVEN_SHIELD="false")
    haven = compose(settings, app.clock, app.site, app.responses, app.query_pages, stub)
    async with started(haven):
        transport = httpx.ASGITransport(app=haven)
        async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
            yield haven, client


async def until_exists(path: Path) -> None:
    """Wait for the publisher (a background task) to write ``path``; the deadline only guards a hang."""
    deadline = time.monotonic() + 10
    while not await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, f"{path.name} was never written"
        await asyncio.sleep(0.01)


async def test_a_worker_publishes_its_figures_while_it_runs_and_removes_them_when_it_stops(
    app: Haven, tmp_path: Path
) -> None:
    folder = tmp_path / "var" / "metrics"
    mine = folder / f"{SERVER}-{ME}.prom"
    async with worker_of_two(app, tmp_path / "var") as (_, client):
        await client.get("/en/")
        await until_exists(mine)
        published = parse_file(mine.read_text(), worker=ME)
        assert published is not None
        assert "process_resident_memory_bytes" in published
    assert not mine.exists()


async def test_a_scrape_answers_with_the_workers_it_can_read_whatever_lies_in_the_folder(
    app: Haven, tmp_path: Path
) -> None:
    folder = tmp_path / "var" / "metrics"
    folder.mkdir(parents=True)
    (folder / f"{SERVER}-1.prom").write_text("# HELP torn")
    (folder / f"{SERVER}-2.prom").write_bytes(b"\xff\x00")
    (folder / f"{SERVER}-3.tmp").write_text("a draft")
    (folder / f"{SERVER}-x.prom").write_text(peer_exposition(worker="x") + END)
    publish(folder, peer_exposition(requests=5))
    async with worker_of_two(app, tmp_path / "var") as (_, client):
        await client.get("/en/")
        answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert workers_in(answer.text) == {ME, PEER}
    assert requests_total(answer.text, "content") == {ME: 1, PEER: 5}
    assert headers_once(answer.text)


# A real server of two workers ----------------------------------------------------------------------


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[RunningServer]:
    """``haven serve`` with two workers sharing a room of their own in a private Redis."""
    with redis_server() as url:
        env = {
            "HAVEN_WORKERS": "2",
            "HAVEN_REDIS_URL": url,
            "HAVEN_ROOM": f"test-{secrets.token_hex(4)}",
            "HAVEN_LOG_LEVEL": "warning",
        }
        with start_server(tmp_path / "var", **env) as server:
            yield server


def fresh_get(server: RunningServer, path: str) -> httpx.Response:
    """One request on a connection of its own, so that either worker may answer it."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        return client.get(path)


def scrape(server: RunningServer) -> str:
    answer = fresh_get(server, "/metrics")
    assert answer.status_code == 200
    return answer.text


@pytest.mark.server
def test_every_scrape_of_a_server_of_two_workers_shows_both(two_workers: RunningServer) -> None:
    made = 0
    deadline = time.monotonic() + 60  # guards a server whose second worker never answers
    with ThreadPoolExecutor(8) as pool:
        while True:  # requests at once, on connections of their own, until both workers answered some
            answers = list(pool.map(lambda _: fresh_get(two_workers, "/en/").status_code, range(40)))
            assert answers == [200] * 40
            made += 40
            served = requests_total(scrape(two_workers), "content")
            if len(served) == 2 and all(served.values()):
                break
            assert time.monotonic() < deadline, f"no scrape showed both workers serving: {served}"

    # A worker's published figures are at most a second old: once both files have been written
    # since the last request, whichever worker answers, the counts add up to the requests made.
    answered = time.time()
    folder = two_workers.log.parent / "metrics"
    deadline = time.monotonic() + 10
    while not all(path.stat().st_mtime > answered for path in folder.glob("*.prom")):
        assert time.monotonic() < deadline, "the workers stopped publishing"
        time.sleep(0.05)  # between two looks at the files, not a wait for anything
    assert len(list(folder.glob("*.prom"))) == 2
    for _ in range(10):
        text = scrape(two_workers)
        assert len(workers_in(text)) == 2
        assert sum(requests_total(text, "content").values()) == made
        assert headers_once(text)
        for name in ("process_resident_memory_bytes", "haven_shield_queue_length"):
            assert len({s.labels["worker"] for s in samples(text) if s.name == name}) == 2, name


@pytest.mark.server
def test_a_stopped_server_leaves_no_worker_files(tmp_path: Path) -> None:
    with redis_server() as url:
        env = {"HAVEN_WORKERS": "2", "HAVEN_REDIS_URL": url, "HAVEN_ROOM": f"test-{secrets.token_hex(4)}"}
        with start_server(tmp_path / "var", **env) as server:
            deadline = time.monotonic() + 10
            while len(workers_in(scrape(server))) < 2:
                assert time.monotonic() < deadline, "the second worker never published"
    assert list((tmp_path / "var" / "metrics").iterdir()) == []
