"""bench/cluster/hosts.py: hosts as network namespaces on one bridge, reaching each other and nothing
outside, and gone without a trace however the run that made them ends (even by SIGKILL, after a
sweep). Needs root, as the cluster harness does; each test has a prefix and a subnet of its own."""

from __future__ import annotations

import contextlib
import json
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cluster.hosts import Host, NetemUnavailable, Network, sweep_leftovers, tcp_round_trip

REPO_ROOT = Path(__file__).resolve().parents[2]


def leftovers(prefix: str) -> list[str]:
    """Namespaces and links whose names carry ``prefix``."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    found = [f"netns:{name}" for name in names if name.startswith(f"{prefix}-")]
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(f"{prefix}-"):
            found.append(f"link:{name}")
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def counter(link: str, name: str) -> int:
    return int(Path(f"/sys/class/net/{link}/statistics/{name}").read_text())


@contextlib.contextmanager
def pair(prefix: str, subnet: str) -> Iterator[tuple[Network, Host, Host]]:
    """A network of two hosts, a and b, checked to leave nothing behind."""
    with Network(prefix=prefix, subnet=subnet, delay_ms=0) as network:
        yield network, network.add_host("a"), network.add_host("b")
    assert leftovers(prefix) == []


def test_two_hosts_talk_to_each_other_across_the_bridge() -> None:
    with pair("hvh1", "198.18.11.0/24") as (network, a, b):
        assert (a.address, b.address, network.gateway) == ("198.18.11.2", "198.18.11.3", "198.18.11.1")
        sent, received = counter(a.veth, "rx_packets"), counter(b.veth, "tx_packets")
        assert tcp_round_trip(a, b, exchanges=20) < 0.05
        # What a sent came into the bridge on a's link and left it on b's.
        assert counter(a.veth, "rx_packets") - sent >= 20
        assert counter(b.veth, "tx_packets") - received >= 20


def test_the_machine_reaches_a_host_at_its_address() -> None:
    with pair("hvh8", "198.18.18.0/24") as (_network, a, _b):
        command = [sys.executable, "-m", "http.server", "--bind", a.address, "8000", "-d", str(REPO_ROOT)]
        server = a.spawn(command, log=Path("/dev/null"))
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://{a.address}:8000/LICENSE", timeout=2) as answer:
                    assert answer.read() == (REPO_ROOT / "LICENSE").read_bytes()
                    break
            except OSError:
                assert time.monotonic() < deadline, "the host's server never answered the machine"
                time.sleep(0.1)
        server.terminate(timeout=5)
        assert not server.alive()


def test_a_host_has_no_route_out_of_the_benchmarking_range() -> None:
    with pair("hvh9", "198.18.19.0/24") as (_network, a, _b):
        routes = a.run(["ip", "-4", "route", "show", "table", "all", "type", "unicast"]).stdout.splitlines()
        assert routes == ["198.18.19.0/24 dev eth0 proto kernel scope link src 198.18.19.2 "]
        for outside in ("8.8.8.8", "198.20.0.1", "10.0.0.1", "192.168.1.1"):
            looked_up = a.run(["ip", "route", "get", outside], check=False)
            assert looked_up.returncode != 0
            assert "unreachable" in looked_up.stdout
        connect = "import socket; socket.create_connection(('8.8.8.8', 53), timeout=3)"
        tried = a.run([sys.executable, "-c", connect], check=False)
        assert tried.returncode != 0
        assert "Network is unreachable" in tried.stdout
        addresses = a.run(["ip", "-o", "addr", "show"]).stdout
        assert "inet6 fe80" not in addresses  # no IPv6 link-local address either
        inet = [line.split()[3] for line in addresses.splitlines() if " inet " in line]
        assert inet == ["127.0.0.1/8", "198.18.19.2/24"]


def kernel_has_netem() -> bool:
    """Whether tc can add a netem qdisc, tried on the loopback of a throwaway namespace."""
    subprocess.run(["ip", "netns", "add", "hvh2-probe"], check=True)
    try:
        qdisc = ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]
        tried = subprocess.run(
            ["ip", "netns", "exec", "hvh2-probe", *qdisc], capture_output=True, check=False
        )
        return tried.returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", "hvh2-probe"], check=True)


def test_the_delay_is_on_the_wire_or_refused_out_loud() -> None:
    network = Network(prefix="hvh2", subnet="198.18.12.0/24", delay_ms=5)
    if not kernel_has_netem():
        # Asking this kernel for a delay must fail and say what to do, not run without one unnoticed.
        with pytest.raises(NetemUnavailable, match="pass delay_ms=0"):
            network.open()
        assert leftovers("hvh2") == []
        return
    with network:
        a, b = network.add_host("a"), network.add_host("b")
        assert 0.010 <= tcp_round_trip(a, b) < 0.050  # 5 ms out of a's link, 5 ms out of b's
    assert leftovers("hvh2") == []


def test_closing_leaves_no_namespace_link_or_process() -> None:
    network = Network(prefix="hvh3", subnet="198.18.13.0/24", delay_ms=0).open()
    try:
        a, b = network.add_host("a"), network.add_host("b")
        sleepers = [host.spawn(["sleep", "600"], log=Path("/dev/null")) for host in (a, b)]
        # One that left its process group and session: only the namespace still knows it.
        a.run(["sh", "-c", "setsid sleep 600 >/dev/null 2>&1 < /dev/null &"])
        deadline = time.monotonic() + 5
        while len(a.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = [*a.pids(), *b.pids()]
        assert len(pids) == 3
        made = ["link:hvh3-br", "link:hvh3-v1", "link:hvh3-v2", "netns:hvh3-a", "netns:hvh3-b"]
        assert sorted(leftovers("hvh3")) == made
    finally:
        network.close()
    network.close()  # a second time does nothing

    assert leftovers("hvh3") == []
    assert not any(running(pid) for pid in pids)
    assert all(not sleeper.alive() for sleeper in sleepers)


CHILD = """
import json, sys, time
from pathlib import Path
from bench.cluster.hosts import Network

with Network(prefix=sys.argv[1], subnet=sys.argv[2], delay_ms=0) as network:
    procs = [network.add_host(name).spawn(["sleep", "600"], log=Path("/dev/null")) for name in ("a", "b")]
    print(json.dumps([proc.pid for proc in procs]), flush=True)
    while True:
        time.sleep(1)
"""


def start_child(prefix: str, subnet: str) -> tuple[subprocess.Popen[str], list[int]]:
    """A Python process that builds a network with two sleeping programs on it, and their pids."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, prefix, subnet],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    with selectors.DefaultSelector() as waiting:
        waiting.register(child.stdout, selectors.EVENT_READ)
        if not waiting.select(timeout=30):
            child.kill()
            raise AssertionError(f"the child built no network in 30 s: {child.communicate()}")
    line = child.stdout.readline()
    assert line, child.communicate()
    pids: list[int] = json.loads(line)
    assert all(running(pid) for pid in pids)
    return child, pids


@pytest.mark.parametrize(
    ("number", "status", "prefix", "subnet"),
    [
        (signal.SIGTERM, 128 + signal.SIGTERM, "hvh4", "198.18.14.0/24"),
        (signal.SIGINT, -signal.SIGINT, "hvh5", "198.18.15.0/24"),  # Python ends by its own SIGINT
        (signal.SIGHUP, 128 + signal.SIGHUP, "hvh7", "198.18.17.0/24"),
    ],
)
def test_a_run_stopped_by_a_signal_leaves_nothing_behind(
    number: int, status: int, prefix: str, subnet: str
) -> None:
    child, pids = start_child(prefix, subnet)
    assert len(leftovers(prefix)) == 5
    child.send_signal(number)
    _out, err = child.communicate(timeout=30)
    assert child.returncode == status
    assert err.strip().splitlines()[-1:] == (["KeyboardInterrupt"] if number == signal.SIGINT else [])
    assert leftovers(prefix) == []
    assert not any(running(pid) for pid in pids)


def test_a_sweep_cleans_up_after_a_run_killed_with_sigkill() -> None:
    child, pids = start_child("hvh6", "198.18.16.0/24")
    child.kill()
    child.communicate(timeout=10)
    # SIGKILL runs no cleanup: everything is still there.
    assert len(leftovers("hvh6")) == 5
    assert all(running(pid) for pid in pids)

    removed = sweep_leftovers("hvh6")

    assert {"netns:hvh6-a", "netns:hvh6-b", "link:hvh6-br"} <= set(removed)
    assert leftovers("hvh6") == []
    assert not any(running(pid) for pid in pids)
    assert sweep_leftovers("hvh6") == []
