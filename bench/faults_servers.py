"""The private servers and processes of bench/faults.py: a PostgreSQL cluster, a Redis, and the product.

Everything lives in one temporary folder under /tmp, on ports nobody else
uses, and is stopped and removed by `Stack.close()` (the bench calls it on
exit and on Ctrl-C). The machine's shared PostgreSQL and Redis are never
touched.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # the OS user: PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(*command: str, log: Path | None = None) -> None:
    prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
    output = log.open("ab") if log else subprocess.DEVNULL
    try:
        subprocess.run([*prefix, *command], check=True, stdout=output, stderr=subprocess.STDOUT, timeout=120)  # noqa: S603
    finally:
        if log:
            output.close()  # type: ignore[union-attr]


class PostgreSQL:
    def __init__(self, folder: Path) -> None:
        self.data = folder / "pgdata"
        # The socket and the log in a folder the postgres user owns.
        self.socket_dir = folder / "pg"
        self.log = self.socket_dir / "postgresql.log"
        self.port = free_port()
        for path in (self.data, self.socket_dir):
            path.mkdir()
            if os.geteuid() == 0:
                shutil.chown(path, PG_USER, PG_USER)
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.running = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/itsm"

    def _ctl(self, *arguments: str) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", *arguments)

    def start(self) -> None:
        self._ctl("start")
        self.running = True

    def stop(self) -> None:
        self.running = False
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")
        self.running = True

    def create_database(self) -> None:
        _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "itsm")


class Redis:
    """redis-server with an append-only file, as production runs it: a restart keeps the queues."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder / "redis"
        self.folder.mkdir()
        self.port = free_port()
        self.log = folder / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)]
        command += [
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._cli("ping") == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("the private redis-server did not start; see " + str(self.log))

    def _cli(self, *arguments: str) -> str:
        command = ["redis-cli", "-p", str(self.port), *arguments]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
        return done.stdout.strip()

    def stop(self) -> None:
        """SHUTDOWN writes the append-only file out first, as a restart by the service manager does."""
        if self.process is None:
            return
        self._cli("shutdown")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


class App:
    """One of the product's processes (web, worker, beat), in a process group of its own."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.name, self.command, self.env = name, command, env
        self.log = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 — our own interpreter and app
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, *, kill: bool = False) -> None:
        if not self.alive():
            return
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class Stack:
    """The servers, the product's environment, and its three processes."""

    def __init__(self, *, web_workers: int, worker_concurrency: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="itsm-faults-"))
        self.folder.chmod(0o755)  # the postgres user walks into it
        self.postgres = PostgreSQL(self.folder)
        self.redis = Redis(self.folder)
        self.web_port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "ITSM_VAR_DIR": str(self.folder / "var"),
            "CELERY_QUEUE": "celery",
            "SECRET_KEY": "faults-bench-only",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_COOKIES": "false",
            "LOG_FORMAT": "plain",
            "LOG_LEVEL": "WARNING",
            "EMAIL_URL": "consolemail://",
            "SITE_URL": f"http://127.0.0.1:{self.web_port}",
        }
        python = sys.executable
        queues = "celery,celery.clock,celery.webhooks"
        self.web = App(
            "web",
            [python, "-m", "granian", "itsm.wsgi:application", "--interface", "wsgi", "--host", "127.0.0.1"]
            + ["--port", str(self.web_port), "--workers", str(web_workers), "--blocking-threads", "4"]
            + ["--workers-kill-timeout", "5"],
            self.env,
            self.folder,
        )
        celery = [python, "-m", "celery", "-A", "itsm"]
        self.worker = App(
            "worker",
            [*celery, "worker", "-Q", queues, f"--concurrency={worker_concurrency}", "--without-mingle"]
            + ["--without-gossip", "--loglevel=WARNING"],
            self.env,
            self.folder,
        )
        self.beat = App(
            "beat",
            [*celery, "beat", f"--schedule={self.folder / 'beat-schedule'}", "--loglevel=WARNING"],
            self.env,
            self.folder,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_servers(self) -> None:
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        os.environ.update({key: self.env[key] for key in ("DATABASE_URL", "REDIS_URL", "ITSM_VAR_DIR", "CELERY_QUEUE")})
        os.environ.update({key: self.env[key] for key in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SITE_URL")})

    def manage(self, *arguments: str) -> None:
        with (self.folder / "manage.log").open("ab") as log:
            subprocess.run(  # noqa: S603
                [sys.executable, "manage.py", *arguments], cwd=ROOT, env=self.env, check=True, stdout=log, stderr=log
            )

    def start_apps(self) -> None:
        for app in (self.web, self.worker, self.beat):
            app.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=5) as answer:  # noqa: S310 — our own
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the web process did not answer /healthz; see {self.web.log}")

    def supervise(self) -> list[str]:
        """Start again a worker or beat that died by itself (as `restart: unless-stopped` would); name them."""
        restarted = []
        for app in (self.worker, self.beat):
            if app.process is not None and not app.alive():
                app.start()
                restarted.append(app.name)
        return restarted

    def close(self, *, keep: bool = False) -> None:
        for app in (self.beat, self.worker, self.web):
            app.stop(kill=True)
        self.redis.stop()
        if self.postgres.running:
            with contextlib.suppress(subprocess.SubprocessError):
                self.postgres.stop()
        if keep:
            print(f"logs kept in {self.folder}")
            for data in (self.postgres.data, self.redis.folder, self.folder / "var"):
                shutil.rmtree(data, ignore_errors=True)
            return
        shutil.rmtree(self.folder, ignore_errors=True)
