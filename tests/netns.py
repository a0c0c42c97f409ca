"""Throwaway network namespaces for tests that need a network interface that is not loopback.

Janus (libnice) never gathers ICE candidates on an interface flagged LOOPBACK, and tests may
send traffic only to loopback or to addresses that they create themselves. So a media test
makes its own namespace: `lo` up, plus a veth pair with both ends inside the namespace, one end
(`Netns.interface`) carrying a private address (`Netns.address`, 10.231.N.1/24). Nothing in the
namespace is connected to the outside: it has no route anywhere else, so any stray packet (a
public STUN server, mDNS) goes nowhere. IPv6 is off in it (no link-local candidates).

    with network_namespace() as ns:        # `ip netns add parley-<random>` ... `ip netns del`
        with ns.inside():                  # this thread's sockets and children are in it
            ...
        process = ns.popen(["janus", ...]) # a child process in it (`ip netns exec`)
        result = ns.run(main())            # asyncio.run(main()) on a thread inside it

How running code inside works: `setns(fd, CLONE_NEWNET)` (through ctypes: Python 3.11 has no
`os.setns`) moves only the *calling thread*. A socket keeps the namespace it was created in,
whichever thread uses it later. A child process (fork/exec, `asyncio.create_subprocess_exec`)
and a new thread start in the namespace of the thread that creates them. `inside()` always
moves the thread back, even on errors; `run()` uses a fresh thread, so that no other task of
pytest's event loop can open a socket in the namespace by accident (and none of the
test's sockets land outside it).

Needs root and iproute2's `ip`; `require_netns()` skips the test otherwise (a reason given).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")  # where `ip netns add` pins namespaces (a bind mount per name)
INTERFACE = "parley0"  # names are per namespace: the same in each one is fine
PEER = "parley1"

_libc = ctypes.CDLL(None, use_errno=True)


def missing_requirement() -> str | None:
    """Why network namespaces cannot be made here, or None if they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if not hasattr(_libc, "setns"):
        return "libc has no setns()"
    return None


def require_netns() -> None:
    """Skip the calling test when network namespaces cannot be made here."""
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(reason)


def setns(fd: int) -> None:
    """Move the calling thread into the network namespace that `fd` refers to."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextlib.contextmanager
def entered(path: Path) -> Iterator[None]:
    """The calling thread inside the network namespace at `path`; back where it was afterwards."""
    # /proc/thread-self, not /proc/self (the main thread's): this thread may be elsewhere already.
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            setns(original)
    finally:
        os.close(original)


def thread_namespace() -> int:
    """The inode of the calling thread's network namespace (to compare with `Netns.inode`)."""
    return os.stat("/proc/thread-self/ns/net").st_ino


@dataclass(frozen=True, slots=True)
class Netns:
    """A network namespace made by `network_namespace()`: its interface and address."""

    name: str  # parley-<random>, as `ip netns list` shows it
    interface: str  # the end of the veth pair that carries `address`
    address: str  # 10.231.N.1 (a /24)

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    @property
    def inode(self) -> int:
        return self.path.stat().st_ino

    def inside(self) -> contextlib.AbstractContextManager[None]:
        """The calling thread in this namespace for the block (sockets it opens, children it
        starts and threads it creates are in it; those sockets stay in it afterwards)."""
        return entered(self.path)

    def command(self, args: list[str]) -> list[str]:
        """`args` as a command that runs in this namespace (`ip netns exec NAME ...`, which
        execs: the process keeps the PID that Popen reports)."""
        return ["ip", "netns", "exec", self.name, *args]

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start `args` in this namespace; the caller stops it (by its PID)."""
        return subprocess.Popen(self.command(args), **kwargs)

    def pids(self) -> list[int]:
        """The processes in this namespace (`ip netns pids`)."""
        done = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in done.stdout.split()]

    def wait_empty(self, within_s: float) -> list[int]:
        """Wait until no process runs in this namespace; those still running after `within_s`."""
        deadline = time.monotonic() + within_s
        while (left := self.pids()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def run(self, coroutine: Coroutine[Any, Any, T], *, timeout_s: float = 60) -> T:
        """`asyncio.run(coroutine)` on a new thread inside this namespace; its result (or its
        exception). Everything the coroutine opens or starts is in the namespace."""
        outcome: dict[str, Any] = {}

        def main() -> None:
            try:
                with self.inside():
                    outcome["result"] = asyncio.run(coroutine)
            except BaseException as exc:  # handed to the calling thread
                outcome["error"] = exc
            finally:
                coroutine.close()  # no "never awaited" warning if it could not start

        thread = threading.Thread(target=main, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            raise TimeoutError(f"the coroutine in {self.name} ran over {timeout_s:g} s")
        if "error" in outcome:
            raise outcome["error"]
        result: T = outcome["result"]
        return result


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@contextlib.contextmanager
def network_namespace(*, linger_s: float = 5) -> Iterator[Netns]:
    """A fresh namespace for the block, deleted afterwards (with its interfaces), even on errors.

    The block stops whatever it started in the namespace; processes that take a moment to exit
    (Chromium's crashpad handlers) get `linger_s`, and any still running then is an error (they
    are not killed: whoever started them stops them). Skips the test when namespaces cannot be
    made here (`require_netns`).
    """
    require_netns()
    ns = Netns(
        name=f"parley-{secrets.token_hex(4)}",
        interface=INTERFACE,
        address=f"10.231.{secrets.randbelow(256)}.1",
    )
    _ip("netns", "add", ns.name)
    try:
        with ns.inside():  # /proc/sys/net is the namespace of the thread that opens it
            for scope in ("all", "default"):
                Path(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6").write_text("1\n")
        _ip("-n", ns.name, "link", "set", "lo", "up")
        # Both ends inside: the pair is up (a veth is down while its peer is) and leads nowhere.
        _ip("-n", ns.name, "link", "add", INTERFACE, "type", "veth", "peer", "name", PEER)
        _ip("-n", ns.name, "address", "add", f"{ns.address}/24", "dev", INTERFACE)
        _ip("-n", ns.name, "link", "set", PEER, "up")
        _ip("-n", ns.name, "link", "set", INTERFACE, "up")
        yield ns
    finally:
        left = ns.wait_empty(linger_s)
        # Deleting the namespace destroys its veth pair once nothing runs in it any more.
        _ip("netns", "delete", ns.name)
    if left:  # not raised while another error is on its way: that one matters more
        raise RuntimeError(f"processes still running in {ns.name}: {left}")
