"""Hosts as Linux network namespaces on one bridge, for running Haven on "many hosts" on one machine.

Each host has its own address in the benchmarking range (198.18.0.0/15, RFC 2544), reaches the other
hosts and the machine across the bridge, and has no route anywhere else. Everything a ``Network``
makes carries its prefix, so that a later run can sweep what a killed one left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeAlias

BENCHMARK_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
INTERFACE_NAME_LIMIT = 15  # IFNAMSIZ less the terminating NUL
STOP_GRACE = 3.0  # seconds a process has to stop on its own signal before SIGKILL
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{0,9}")  # so that "<prefix>-br" and "<prefix>-v254" fit
HOST_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")

SignalHandler: TypeAlias = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class NetworkError(RuntimeError):
    """Building, checking or removing the network failed."""


class NetemUnavailable(NetworkError):
    """The kernel has no netem queueing discipline, so no delay can be put on the wire."""


class CommandFailed(RuntimeError):
    """A command run on a host exited with an error."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(argv)} exited with {returncode}:\n{output[-2000:]}")
        self.returncode = returncode
        self.output = output


def tool(name: str) -> str:
    """The path of a system program, or an error naming what to install."""
    found = shutil.which(name)
    if found is None:
        raise NetworkError(f"{name} is not installed (Debian: iproute2, util-linux, procps)")
    return found


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise NetworkError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([tool("ip"), *args], check=check)


def _ip_json(*args: str) -> list[dict[str, Any]]:
    output = _ip("-j", *args).stdout.strip()
    found: list[dict[str, Any]] = json.loads(output) if output else []
    return found


class Proc:
    """A program started on a host. It leads its own process group, so that its children (workers,
    backends) are stopped with it."""

    def __init__(self, popen: subprocess.Popen[bytes], argv: Sequence[str], log: Path, stop_signal: int):
        self.popen = popen
        self.argv = list(argv)
        self.log = log
        self.stop_signal = stop_signal

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        """Whether the program itself (the group's leader) is still running."""
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group (SIGKILL: as when the host loses power)."""
        # The kernel does not hand out a group's id as a new pid while the group has members, so
        # this reaches only what is left of this program even after its leader has been reaped.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        """The exit status of the program; ``subprocess.TimeoutExpired`` if it runs on."""
        return self.popen.wait(timeout)

    def terminate(self, timeout: float = 10.0) -> int:
        """Its stop signal to the group, SIGKILL after ``timeout`` s, and SIGKILL to any member of
        the group that outlived the leader."""
        self.kill(self.stop_signal)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            code = self.popen.wait(10)
        self.kill(signal.SIGKILL)
        return code

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def __repr__(self) -> str:
        return f"Proc(pid={self.pid}, argv={self.argv[:3]!r}, returncode={self.returncode})"


class Host:
    """One network namespace with one address: ``eth0`` on the network's bridge."""

    def __init__(self, network: Network, name: str, address: str, netns: str, veth: str) -> None:
        self.network = network
        self.name = name
        self.address = address
        self.netns = netns
        self.veth = veth  # the end on the bridge, in the machine's own namespace
        self.procs: list[Proc] = []

    def command(self, argv: Sequence[str], *, user: str | None = None) -> list[str]:
        """``argv`` as run inside this host, as ``user`` when one is given."""
        prefix = [tool("ip"), "netns", "exec", self.netns]
        if user is not None:
            # setpriv changes user and then runs the program in place (runuser would stay as its
            # parent), so the pid we hold is the program's own.
            account = pwd.getpwnam(user)
            ids = [f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
            prefix += [tool("setpriv"), *ids, "--"]
        return [*prefix, *argv]

    def _environment(self, env: Mapping[str, str] | None, user: str | None) -> dict[str, str]:
        environment = dict(os.environ if env is None else env)
        if user is not None:
            account = pwd.getpwnam(user)
            environment.update(HOME=account.pw_dir, USER=user, LOGNAME=user)
        return environment

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log: Path,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Proc:
        """Start a long-running program on this host, its output appended to ``log``. The network
        stops it when it closes (``stop_signal``, then SIGKILL)."""
        self.network.require_open()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                self.command(argv, user=user),
                env=self._environment(env, user),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(popen, argv, log, stop_signal)
        self.procs.append(proc)
        return proc

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        timeout: float = 60.0,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command on this host and collect its output (stderr into stdout)."""
        self.network.require_open()
        done = subprocess.run(
            self.command(argv, user=user),
            env=self._environment(env, user),
            cwd=cwd,
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise CommandFailed(argv, done.returncode, done.stdout)
        return done

    def pids(self) -> list[int]:
        """Every process running in this host's namespace, whoever started it."""
        return _namespace_pids(self.netns)

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.address!r})"


class Network:
    """A bridge in the machine's namespace and hosts on it; a context manager that removes all of it
    on the way out, however the run ends (exception, SIGTERM, SIGINT, SIGHUP, interpreter exit).

    ``prefix`` names everything it makes (namespaces ``<prefix>-<host>``, links ``<prefix>-br`` and
    ``<prefix>-v<n>``): one open network per prefix at a time. ``subnet`` must lie in 198.18.0.0/15 and
    overlap no address of the machine's, so two open networks need two subnets. ``delay_ms`` is put
    on each host's ``eth0`` with netem, so host to host a round trip takes twice that.
    """

    def __init__(self, prefix: str = "hv", subnet: str = "198.18.0.0/24", delay_ms: float = 1.0) -> None:
        check_prefix(prefix)
        network = ipaddress.IPv4Network(subnet)
        if not network.subnet_of(BENCHMARK_RANGE):
            raise ValueError(f"subnet {subnet} is not inside the benchmarking range {BENCHMARK_RANGE}")
        if network.num_addresses < 4:
            raise ValueError(f"subnet {subnet} has no room for a bridge and a host")
        if delay_ms < 0:
            raise ValueError("delay_ms cannot be negative")
        self.prefix = prefix
        self.subnet = network
        self.delay_ms = delay_ms
        self.bridge = f"{prefix}-br"
        addresses = network.hosts()
        self.gateway = str(next(addresses))  # the bridge's own address: the machine on this network
        self._free = addresses
        self.hosts: dict[str, Host] = {}
        self._state = "new"

    def __enter__(self) -> Network:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> Network:
        """Sweep what an earlier run with this prefix left, then make the bridge."""
        if self._state != "new":
            raise NetworkError(f"network {self.prefix} was opened already")
        if os.geteuid() != 0:
            raise NetworkError("network namespaces need root")
        self._state = "open"
        _track(self)
        try:
            sweep_leftovers(self.prefix)
            self._check_subnet_is_free()
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("link", "set", self.bridge, "addrgenmode", "none")  # no IPv6 link-local address
            _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            if self.delay_ms > 0:
                self._check_netem()
            self._let_bridged_traffic_through()
        except BaseException:
            self.close()
            raise
        return self

    def require_open(self) -> None:
        if self._state != "open":
            raise NetworkError(f"network {self.prefix} is {self._state}, not open")

    def add_host(self, name: str) -> Host:
        """A new namespace ``<prefix>-<name>`` with the next address of the subnet on its ``eth0``."""
        self.require_open()
        if not HOST_NAME_PATTERN.fullmatch(name):
            raise ValueError(f"host name {name!r}: lower-case letters, digits and dashes, 40 at most")
        if name in self.hosts:
            raise ValueError(f"host {name!r} exists already")
        address = next(self._free, None)
        if address is None:
            raise NetworkError(f"subnet {self.subnet} is full")
        veth = f"{self.prefix}-v{len(self.hosts) + 1}"
        if len(veth) > INTERFACE_NAME_LIMIT:
            raise NetworkError(f"interface name {veth} is longer than {INTERFACE_NAME_LIMIT} characters")
        host = Host(self, name, str(address), f"{self.prefix}-{name}", veth)
        self.hosts[name] = host  # before anything is made, so that close() removes a half-made host
        plen = str(self.subnet.prefixlen)
        _ip("netns", "add", host.netns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", veth, "addrgenmode", "none")
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", host.netns, "link", "set", "lo", "up")
        _ip("-n", host.netns, "link", "set", "eth0", "addrgenmode", "none")
        _ip("-n", host.netns, "addr", "add", f"{host.address}/{plen}", "dev", "eth0")
        _ip("-n", host.netns, "link", "set", "eth0", "up")
        if self.delay_ms > 0:
            delay = f"{self.delay_ms:g}ms"
            host.run([tool("tc"), "qdisc", "add", "dev", "eth0", "root", "netem", "delay", delay])
        return host

    def close(self) -> None:
        """Stop every program started on the hosts, then remove the namespaces, links and bridge.
        Safe to call more than once, and from a signal's unwinding."""
        if self._state in ("closing", "closed"):
            return
        self._state = "closing"
        global _closing
        _closing += 1
        try:
            _stop_all([proc for host in self.hosts.values() for proc in host.procs])
            sweep_leftovers(self.prefix)
        finally:
            _closing -= 1
            self._state = "closed"
            _untrack(self)
        _deliver_pending()

    def _check_subnet_is_free(self) -> None:
        for link in _ip_json("-4", "addr", "show"):
            for entry in link.get("addr_info", []):
                used = ipaddress.ip_network(f"{entry['local']}/{entry['prefixlen']}", strict=False)
                if used.overlaps(self.subnet):
                    raise NetworkError(
                        f"subnet {self.subnet} overlaps {entry['local']}/{entry['prefixlen']} on "
                        f"{link['ifname']}: give each open Network a subnet of its own"
                    )

    def _check_netem(self) -> None:
        qdisc = [tool("tc"), "qdisc", "add", "dev", self.bridge, "root", "netem", "delay", "1ms"]
        probe = _run(qdisc, check=False)
        if probe.returncode != 0:
            raise NetemUnavailable(
                f"this kernel cannot delay packets (tc: {probe.stderr.strip()}; netem is "
                "CONFIG_NET_SCH_NETEM, module sch_netem): pass delay_ms=0 to run without a delay"
            )
        _run([tool("tc"), "qdisc", "del", "dev", self.bridge, "root"])

    def _let_bridged_traffic_through(self) -> None:
        # With br_netfilter loaded and bridge-nf-call-iptables on (Docker turns it on), frames
        # crossing a bridge go through iptables' FORWARD chain, whose policy is often DROP: hosts
        # would reach the machine but not each other. An ACCEPT for this bridge, removed with it,
        # lets them through. nftables rules of their own (not through iptables) are not touched:
        # tcp_round_trip() says so when host-to-host traffic does not get through.
        if _sysctl("net/bridge/bridge-nf-call-iptables") != "1" or shutil.which("iptables") is None:
            return
        _run([tool("iptables"), "-w", "-I", *_forward_rule(self.bridge)])  # the sweep removes it

    def __repr__(self) -> str:
        return f"Network({self.prefix!r}, {str(self.subnet)!r}, hosts={list(self.hosts)})"


def check_prefix(prefix: str) -> None:
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"prefix {prefix!r}: a lower-case letter, then letters or digits, 10 at most")


def sweep_leftovers(prefix: str) -> list[str]:
    """Remove what a network with ``prefix`` left behind (a run killed with SIGKILL runs no cleanup):
    the processes in its namespaces, the namespaces, its links and its firewall rule. Returns what
    it removed, as ``netns:<name>``, ``link:<name>`` and ``pid:<n>``."""
    check_prefix(prefix)
    mine = f"{prefix}-"
    namespaces = [entry["name"] for entry in _ip_json("netns", "list") if entry["name"].startswith(mine)]
    removed = [f"pid:{pid}" for pid in _empty_namespaces(namespaces)]
    links = [entry["ifname"] for entry in _ip_json("link", "show") if entry["ifname"].startswith(mine)]
    # The veths first (deleting one end deletes the pair at once), the bridge last.
    for name in sorted(links, key=lambda link: link == f"{prefix}-br"):
        _ip("link", "del", name, check=False)
        removed.append(f"link:{name}")
    for name in namespaces:
        _ip("netns", "del", name)
        removed.append(f"netns:{name}")
    if shutil.which("iptables") is not None:
        rule = _forward_rule(f"{prefix}-br")
        while _run([tool("iptables"), "-w", "-C", *rule], check=False).returncode == 0:
            _run([tool("iptables"), "-w", "-D", *rule])
            removed.append("iptables:FORWARD")
    left = [entry["ifname"] for entry in _ip_json("link", "show") if entry["ifname"].startswith(mine)]
    if left:
        raise NetworkError(f"links left after the sweep: {left}")
    return removed


def tcp_round_trip(client: Host, server: Host, port: int = 7, exchanges: int = 20) -> float:
    """The shortest time, in seconds, for one byte to go from ``client`` to ``server`` and back over
    TCP, across the bridge (an echo server is started on ``server`` for the measurement)."""
    echo = server.spawn(
        [sys.executable, "-c", _ECHO_SERVER, server.address, str(port)],
        log=Path(os.devnull),
    )
    try:
        done = client.run(
            [sys.executable, "-c", _ECHO_CLIENT, server.address, str(port), str(exchanges)],
            check=False,
            timeout=30,
        )
    finally:
        echo.terminate(timeout=2)
    if done.returncode != 0:
        bridged = _sysctl("net/bridge/bridge-nf-call-iptables")
        raise NetworkError(
            f"{client.name} ({client.address}) cannot reach {server.name} ({server.address}) across "
            f"{client.network.bridge}: {done.stdout.strip()[-500:]}. net.bridge.bridge-nf-call-iptables "
            f"is {bridged}: when it is 1, bridged packets go through the firewall's FORWARD chain "
            "(iptables or nftables), which may drop them"
        )
    return float(done.stdout.split()[-1])


_ECHO_SERVER = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    connection, _ = server.accept()
    with connection:
        while data := connection.recv(64):
            connection.sendall(data)
"""

_ECHO_CLIENT = """
import socket, sys, time
address, port, exchanges = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 10
while True:
    try:
        connection = socket.create_connection((address, port), timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
best = float("inf")
for _ in range(exchanges):
    started = time.perf_counter()
    connection.sendall(b"x")
    if connection.recv(1) != b"x":
        raise SystemExit("echo server closed the connection")
    best = min(best, time.perf_counter() - started)
print(f"{best:.6f}")
"""


def _forward_rule(bridge: str) -> list[str]:
    return ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def _sysctl(name: str) -> str:
    """A value of the machine's own namespace ("" when the setting does not exist)."""
    with contextlib.suppress(OSError):
        return (Path("/proc/sys") / name).read_text().strip()
    return ""


def _namespace_pids(netns: str) -> list[int]:
    done = _ip("netns", "pids", netns, check=False)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def _signal_pids(pids: Sequence[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _empty_namespaces(namespaces: Sequence[str]) -> list[int]:
    """Stop every process in the namespaces (SIGTERM, then SIGKILL after the grace). A namespace
    that still has processes cannot be removed: it would live on, unnamed, with them."""
    found = sorted({pid for netns in namespaces for pid in _namespace_pids(netns)})
    if not found:
        return []
    _signal_pids(found, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and any(_namespace_pids(netns) for netns in namespaces):
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while left := sorted({pid for netns in namespaces for pid in _namespace_pids(netns)}):
        if time.monotonic() > deadline:
            raise NetworkError(f"processes {left} will not leave namespaces {list(namespaces)}")
        _signal_pids(left, signal.SIGKILL)
        time.sleep(0.05)
    return found


def _stop_all(procs: Sequence[Proc]) -> None:
    """Every program its stop signal at once, SIGKILL to the groups after the grace, and reaped."""
    for proc in procs:
        if proc.alive():
            proc.kill(proc.stop_signal)
    deadline = time.monotonic() + STOP_GRACE
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        proc.kill(signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)


# Networks open in this process, closed at interpreter exit and on the signals that would otherwise
# end the process without unwinding. A signal that comes while a network is closing is held until
# the closing is done, so that it never cuts the cleanup short.
_open: list[Network] = []
_saved_handlers: dict[int, SignalHandler] = {}
_closing = 0
_pending: list[int] = []
_CAUGHT = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _interrupt(number: int, frame: FrameType | None) -> None:
    if _closing:
        _pending.append(number)
        return
    _raise_for(number)


def _raise_for(number: int) -> None:
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + number)


def _deliver_pending() -> None:
    if _pending and not _closing:
        number = _pending[0]
        _pending.clear()
        _raise_for(number)


def _track(network: Network) -> None:
    if not _open and threading.current_thread() is threading.main_thread():
        for number in _CAUGHT:
            previous = signal.getsignal(number)
            if previous is not signal.SIG_IGN:  # nohup and background jobs ignore some on purpose
                _saved_handlers[number] = signal.signal(number, _interrupt)
    _open.append(network)


def _untrack(network: Network) -> None:
    with contextlib.suppress(ValueError):
        _open.remove(network)
    if not _open and threading.current_thread() is threading.main_thread():
        for number, previous in _saved_handlers.items():
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
        _saved_handlers.clear()


@atexit.register
def _close_all() -> None:
    for network in list(reversed(_open)):
        network.close()
