# syntax=docker/dockerfile:1
# Multi-stage: the dependencies are installed in a layer of their own, before the code, so a
# code change does not reinstall them. The runtime image runs as a non-root user.
#
# BASE_IMAGE: any Debian-like image with Python 3.11+ as `python` (with venv) and `useradd`.
# scripts/container-smoke passes a stand-in made with debootstrap where python:3.11-slim
# cannot be pulled.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Exactly what requirements.lock pins (each file checked against its hash), nothing else:
# --no-deps, so a package the lock does not name cannot slip in (pip check would say so).
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY providers ./providers
# The project itself, again --no-deps; pip check fails the build when the lock no longer
# satisfies pyproject.toml's ranges (a dependency added or raised without refreshing it).
RUN /opt/venv/bin/pip install --no-deps . && /opt/venv/bin/pip check

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 CONFIG_PATH=/app/config.yaml PORT=8080
RUN useradd --create-home --uid 10001 bot
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY config.yaml ./
COPY flows ./flows
COPY templates ./templates
RUN crypto-helper check
# Rates and the metered providers' monthly request counts survive restarts here (mount a
# volume to keep them across deploys; with REDIS_URL they live in Redis instead), and so
# does the quote journal's SQLite file unless DATABASE_URL names a PostgreSQL database.
ENV DATA_DIR=/app/data
RUN mkdir -p /app/data && chown bot /app/data
VOLUME /app/data
USER bot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8080\")}/health/live', timeout=2)"
CMD ["crypto-helper", "run"]
