# syntax=docker/dockerfile:1
# Multi-stage: dependencies are built in a layer of their own, before the code, so a code
# change does not reinstall them. The runtime image runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
# Install only the dependencies first (cached layer): a stub package satisfies the build.
RUN mkdir -p engine providers && touch engine/__init__.py providers/__init__.py \
    && python -m venv /opt/venv && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall -y crypto-helper
COPY engine ./engine
COPY providers ./providers
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim
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
