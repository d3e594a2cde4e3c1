"""Production settings: `check --deploy` is clean with a realistic environment, and the settings refuse
to start without a secret of their own. Each run is a fresh process with only the variables given here.
"""

import os
import secrets
import subprocess
import sys
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
