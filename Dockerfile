# syntax=docker/dockerfile:1
# quanjing's image: built from the lock (uv.lock) and nothing else, run as a non-root user.
# docs/operations.md, "Deployment": how it is run beside PostgreSQL and Redis, and what it needs.

# --- build: the locked dependencies and the project into a virtualenv ----------------------
FROM python:3.11-slim AS build
ENV UV_PROJECT_ENVIRONMENT=/opt/quanjing \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src
# The installer, pinned with hashes like every dependency (.ci/uv-requirements.txt).
COPY .ci/uv-requirements.txt .ci/uv-requirements.txt
RUN python -m pip install --no-cache-dir --require-hashes --no-deps -r .ci/uv-requirements.txt
# Dependencies first (a layer that changes only when the lock does), then the project.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY api ./api
COPY schema ./schema
COPY domain ./domain
COPY migrations ./migrations
COPY benchmarks ./benchmarks
COPY alembic.ini schema.graphql ./
RUN uv sync --locked --no-dev --no-editable

# --- run: the virtualenv only, as user quanjing ---------------------------------------------
FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/quanjing quanjing
COPY --from=build /opt/quanjing /opt/quanjing
ENV PATH=/opt/quanjing/bin:$PATH \
    QUANJING_HOME=/var/lib/quanjing \
    QUANJING_ENV=production \
    QUANJING_LOG_FORMAT=json \
    QUANJING_METRICS_HOST=0.0.0.0 \
    QUANJING_METRICS_PORT=9464 \
    PYTHONUNBUFFERED=1
USER quanjing
WORKDIR /var/lib/quanjing
EXPOSE 8000 9464
# Ready means PostgreSQL and Redis answer (/readyz answers 503 within a second otherwise).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
# SIGTERM stops it cleanly (open requests get QUANJING_SHUTDOWN_TIMEOUT_SECONDS).
STOPSIGNAL SIGTERM
CMD ["quanjing", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
