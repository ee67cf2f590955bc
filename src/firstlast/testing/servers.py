"""Real server processes on 127.0.0.1 for integration tests: ``firstlast serve``, or any command that
answers HTTP once it is up (a ``chroma run`` server, a llama.cpp server).

    with firstlast_server(env) as server:          # ingest first with run_cli("ingest", ..., env=env)
        httpx.get(f"{server.base}/healthz")
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> list[str]:
    """The firstlast command line of this Python (so a test's environment and code are the ones used)."""
    return [sys.executable, "-m", "firstlast.cli", *args]


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cli(*args), env=dict(env), check=True, capture_output=True)


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT

    def stderr(self) -> str:
        return self.proc.stderr.read().decode() if self.proc.stderr else ""

    def wait_until_up(self, path: str = "/healthz", timeout: float = 90.0) -> None:
        """Poll ``path`` until it answers 200; RuntimeError (with the server's stderr) otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}{path}", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
        raise RuntimeError(f"server at {self.base} did not come up within {timeout:.0f} s")

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)


def start(command: Sequence[str], port: int, env: Mapping[str, str] | None = None) -> ServerProcess:
    proc = subprocess.Popen(
        list(command), env=dict(env) if env else None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return ServerProcess(proc, f"http://127.0.0.1:{port}")


def start_firstlast(env: Mapping[str, str]) -> ServerProcess:
    port = free_port()
    return start(cli("serve", "--port", str(port)), port, env)


@contextmanager
def firstlast_server(env: Mapping[str, str], timeout: float = 90.0) -> Iterator[ServerProcess]:
    """``firstlast serve`` with ``env``, up and answering /healthz; stopped afterwards."""
    server = start_firstlast(env)
    try:
        server.wait_until_up(timeout=timeout)
        yield server
    finally:
        server.stop()
