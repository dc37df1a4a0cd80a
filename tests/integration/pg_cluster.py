"""A lone PostgreSQL cluster started by a test in a temp dir: one journal of a federation per cluster.

Built from pg_pair's pieces (same binaries, same skip reason, same step timeout).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.integration.pg_pair import BIN, DB, STEP_TIMEOUT_S, Node, _chown, free_port

CONF = """
listen_addresses = '127.0.0.1'
shared_buffers = '32MB'
max_connections = 40
fsync = on
"""


@dataclass
class PgCluster:
    root: Path
    node: Node

    @property
    def url(self) -> str:
        return self.node.url

    @classmethod
    def start(cls, name: str) -> PgCluster:
        root = Path(tempfile.mkdtemp(prefix=f"ecoledger-{name}-"))
        os.chmod(root, 0o755)
        _chown(root)
        cluster = cls(root, Node(name, root / "data", free_port()))
        try:
            cluster._run(
                BIN / "initdb", "-D", cluster.node.data, "-A", "trust", "-U", "postgres", "-E", "UTF8"
            )
            with open(cluster.node.data / "postgresql.conf", "a") as conf:
                conf.write(CONF)
            cluster._pg_ctl("start")
            engine = create_engine(cluster.url.replace(f"/{DB}", "/postgres"), isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {DB}"))
            engine.dispose()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _pg_ctl(self, action: str, *args: str) -> None:
        opts = (
            ["-o", f"-p {self.node.port} -k {self.root}", "-l", str(self.root / "log")]
            if action == "start"
            else []
        )
        self._run(BIN / "pg_ctl", "-D", self.node.data, *opts, "-w", "-t", str(STEP_TIMEOUT_S), action, *args)

    def stop(self) -> None:
        if (self.node.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError, OSError):
                self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *cmd: str | Path) -> None:
        argv = [str(c) for c in cmd]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=STEP_TIMEOUT_S + 10, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
