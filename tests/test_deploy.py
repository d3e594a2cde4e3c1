"""Production settings: `check --deploy` is clean with a realistic environment, and the settings refuse
to start without a secret of their own. Each run is a fresh process with only the variables given here.
"""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Variables the settings read that a developer's or CI's shell may carry; production gets only its own.
INHERITED_SETTINGS = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SITE_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "METRICS_TOKEN",
    "SECURE_COOKIES",
    "ACCESS_LOG",
    "LOG_LEVEL",
    "LOG_FORMAT",
    # Set by the browser tests in this process; production never has it (check --deploy refuses it).
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def production_environment(**overrides: str) -> dict[str, str]:
    """TLS ends at a proxy that sets X-Forwarded-Proto; every secret comes from the environment."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in INHERITED_SETTINGS and not name.startswith("SECURE_")
    }
    environment.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="itsm.example.com",
        CSRF_TRUSTED_ORIGINS="https://itsm.example.com",
        SITE_URL="https://itsm.example.com",
        SECURE_PROXY_SSL_HEADER="true",
        SECURE_HSTS_PRELOAD="true",
        DATABASE_URL=f"postgres://itsm:{secrets.token_urlsafe(16)}@db.internal:5432/itsm",
        REDIS_URL="redis://redis.internal:6379/0",
        EMAIL_URL=f"smtp+tls://itsm:{secrets.token_urlsafe(16)}@smtp.example.com:587",
        METRICS_TOKEN=secrets.token_urlsafe(32),
    )
    environment.update(overrides)
    return {name: value for name, value in environment.items() if value is not None}


def manage(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


def deploy_check(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return manage("check", "--deploy", "--fail-level", "WARNING", environment=environment)


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = deploy_check(production_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_fails_a_site_served_over_plain_http() -> None:
    result = deploy_check(production_environment(SITE_URL="http://itsm.example.com", SECURE_COOKIES="false"))
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr, warning


def test_production_refuses_to_start_without_a_secret_key() -> None:
    environment = production_environment()
    del environment["SECRET_KEY"]
    result = manage("check", environment=environment)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_public_development_key() -> None:
    key = "insecure-development-key-do-not-use-in-production"
    result = manage("check", environment=production_environment(SECRET_KEY=key))
    assert result.returncode != 0
    assert "SECRET_KEY is the public development key" in result.stderr
    # While developing (DEBUG) it is the default, and allowed.
    assert manage("check", environment=production_environment(SECRET_KEY=key, DEBUG="true")).returncode == 0


def test_docker_compose_takes_its_secrets_from_the_environment_and_runs_redis_as_a_broker() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app = compose["x-app"]["environment"]
    # Refused when unset (`${NAME:?…}`): no secret has a default written here.
    assert app["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert app["DATABASE_URL"].startswith("postgres://itsm:${POSTGRES_PASSWORD:?")
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert app["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
    redis = " ".join(compose["services"]["redis"]["command"])
    for flag in ("--maxmemory-policy noeviction", "--appendonly yes", "--appendfsync everysec"):
        assert flag in redis
    # Every queue has a consumer, and one beat only.
    queues = {
        service["command"][service["command"].index("-Q") + 1]
        for service in compose["services"].values()
        if "worker" in service.get("command", [])
    }
    assert queues == {"celery", "celery.clock", "celery.webhooks"}
    assert "deploy" not in compose["services"]["beat"]


def _image_settings(prefix: str) -> dict[str, str]:
    """The Dockerfile's ENV variables whose names start with `prefix`."""
    text = (ROOT / "Dockerfile").read_text()
    return dict(re.findall(rf"^\s*(?:ENV\s+)?({prefix}\w+)=(\S+?)\s*\\?$", text, flags=re.MULTILINE))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_web_role_serves_the_application_with_granian_as_the_image_configures_it(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["command"]
    assert command == ["granian", "itsm.wsgi:application"]
    granian = _image_settings("GRANIAN_")
    assert granian["GRANIAN_INTERFACE"] == "wsgi"
    assert (granian["GRANIAN_HOST"], granian["GRANIAN_PORT"]) == ("0.0.0.0", "8000")  # noqa: S104 — in the container

    port = _free_port()
    environment = production_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=None,  # type: ignore[arg-type]
        ITSM_VAR_DIR=str(tmp_path),
        **granian,
    )
    environment.update(GRANIAN_HOST="127.0.0.1", GRANIAN_PORT=str(port), GRANIAN_WORKERS="1")
    assert manage("migrate", "--noinput", environment=environment).returncode == 0
    server = subprocess.Popen(  # noqa: S603 — granian from this environment, as the image runs it
        [sys.executable, "-m", *command], cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "itsm.example.com"})
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 — our own server
                    status, body = response.status, response.read()
                break
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read()
                break
            except OSError:
                assert server.poll() is None, "granian exited"
                assert time.monotonic() < deadline, "granian did not answer within 60 s"
                time.sleep(0.2)
        assert status == 200, body
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    # The access log comes from the application (granian writes none), one JSON line a request.
    assert b'"logger": "itsm.access"' in output
    assert b'\\"GET /healthz HTTP/1.1\\" 200' in output
