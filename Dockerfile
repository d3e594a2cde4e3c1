# The production image: one image, three roles (web, worker, beat) chosen by the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ITSM_VAR_DIR=/app/var

# The web role's server, granian (README, "Production"); any of these can be set at run time.
ENV GRANIAN_INTERFACE=wsgi \
    GRANIAN_HOST=0.0.0.0 \
    GRANIAN_PORT=8000 \
    GRANIAN_WORKERS=2 \
    GRANIAN_BLOCKING_THREADS=4 \
    GRANIAN_RESPAWN_FAILED_WORKERS=true \
    GRANIAN_WEBSOCKETS=false

WORKDIR /app
RUN useradd --create-home --uid 10001 itsm

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to load; the key is only for this build step.
RUN SECRET_KEY=collectstatic-only python manage.py compile_translations \
    && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media && chown -R itsm:itsm /app/var

USER itsm
EXPOSE 8000
CMD ["granian", "itsm.wsgi:application"]
