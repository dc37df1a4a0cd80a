"""A PostgreSQL primary and its synchronous streaming standby, started by a test in a temp dir.

Used by the failover drill and the replica-read tests; ``why_not`` names why a machine cannot run them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

BIN = Path(os.environ.get("ECOLEDGER_PG_BIN", "/usr/lib/postgresql/15/bin"))
DB = "ecoledger"
STANDBY_NAME = "standby1"
STEP_TIMEOUT_S = 60  # any one pg_ctl / pg_basebackup step; a hang fails instead of stalling CI

# remote_apply, not on: a commit is acknowledged only once the standby has *applied* it, so a read
# on the standby right after an acknowledged write sees it, and a promoted standby has every
# acknowledged record in its tables (with ``on`` it is on the standby's disk, applied soon after).
PRIMARY_CONF = f"""
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 4
wal_keep_size = '64MB'
synchronous_standby_names = 'FIRST 1 ({STANDBY_NAME})'
synchronous_commit = remote_apply
shared_buffers = '32MB'
max_connections = 60
"""


def why_not() -> str | None:
    """A one-line reason this machine cannot start clusters of its own, or None."""
    for tool in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (BIN / tool).exists():
            return f"PostgreSQL server binaries not found in {BIN}"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: pg_ctl refuses to start a server as root"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to start a server as"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    name: str
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DB}"

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])


@dataclass
class PgPair:
    """A primary and a standby on free ports under ``root``; ``stop`` ends both, in any state."""

    root: Path
    primary: Node
    standby: Node
    log: list[str] = field(default_factory=list)

    @property
    def failover_url(self) -> str:
        """The libpq multi-host URL the registry is configured with: both nodes, and only the one
        that accepts writes (``target_session_attrs=read-write``) is used."""
        hosts = "&".join(f"host=127.0.0.1:{n.port}" for n in (self.primary, self.standby))
        return (
            f"postgresql+psycopg://postgres@/{DB}?{hosts}&target_session_attrs=read-write&connect_timeout=3"
        )

    @classmethod
    def start(cls) -> PgPair:
        root = Path(tempfile.mkdtemp(prefix="ecoledger-pgpair-"))
        os.chmod(root, 0o755)
        _chown(root)
        pair = cls(root, Node("primary", root / "primary", free_port()), Node("standby", root / "standby", 0))
        try:
            pair._start_primary()
            pair.standby.port = free_port()
            pair._start_standby()
            pair.wait_sync()
        except BaseException:
            pair.stop()
            raise
        return pair

    def _start_primary(self) -> None:
        self._run(BIN / "initdb", "-D", self.primary.data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
        with open(self.primary.data / "postgresql.conf", "a") as conf:
            conf.write(PRIMARY_CONF)
        self.pg_ctl(self.primary, "start")
        engine = create_engine(self.primary.url.replace(f"/{DB}", "/postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SET synchronous_commit = local"))  # no standby yet to wait for
            conn.execute(text(f"CREATE DATABASE {DB}"))
        engine.dispose()

    def _start_standby(self) -> None:
        # -R writes standby.signal and primary_conninfo; the application_name is what
        # synchronous_standby_names waits for.
        conninfo = f"host=127.0.0.1 port={self.primary.port} user=postgres application_name={STANDBY_NAME}"
        backup = ("-D", self.standby.data, "-R", "-X", "stream", "-c", "fast")
        self._run(BIN / "pg_basebackup", "-d", conninfo, *backup)
        with open(self.standby.data / "postgresql.auto.conf", "a") as conf:
            # The copied postgresql.conf names a synchronous standby; once promoted, this node has
            # none, and every commit would wait for it forever. It stands alone (one copy) until a
            # new standby is attached and the setting restored (docs/operations.md).
            conf.write("synchronous_standby_names = ''\n")
        self.pg_ctl(self.standby, "start")

    def pg_ctl(self, node: Node, action: str, *args: str) -> None:
        opts = ["-o", f"-p {node.port} -k {self.root}", "-l", str(self.root / f"{node.name}.log")]
        extra = opts if action in ("start", "restart") else []
        self._run(BIN / "pg_ctl", "-D", node.data, *extra, "-w", "-t", str(STEP_TIMEOUT_S), action, *args)

    def wait_sync(self, timeout_s: float = STEP_TIMEOUT_S) -> None:
        """Until the primary reports the standby streaming as its synchronous standby."""
        engine = create_engine(self.primary.url, isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                with engine.connect() as conn:
                    state = conn.execute(
                        text("SELECT state, sync_state FROM pg_stat_replication WHERE application_name = :n"),
                        {"n": STANDBY_NAME},
                    ).first()
                if state is not None and tuple(state) == ("streaming", "sync"):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"standby not synchronous after {timeout_s} s: {state}")
                time.sleep(0.1)
        finally:
            engine.dispose()

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster and every backend of it, as when its machine dies:
        orphaned backends would otherwise linger a moment after the postmaster."""
        pid = self.primary.postmaster_pid()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for victim in [pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)

    def promote_standby(self) -> None:
        self.pg_ctl(self.standby, "promote")

    def stop(self) -> None:
        for node in (self.standby, self.primary):
            if (node.data / "postmaster.pid").exists():
                # a killed primary leaves its pid file behind, and pg_ctl fails on it
                with contextlib.suppress(RuntimeError, subprocess.SubprocessError, OSError):
                    self.pg_ctl(node, "stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *cmd: str | Path) -> None:
        argv = [str(c) for c in cmd]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        timeout = STEP_TIMEOUT_S + 10
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        self.log.append(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)
