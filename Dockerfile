# syntax=docker/dockerfile:1
# Build:    docker build -t advocacy-api .
# Migrate:  docker run --rm -e DATABASE_URL=... advocacy-api advocacy migrate
# Serve:    docker run -p 8000:8000 -e DATABASE_URL=... -e SECRET_KEY=... advocacy-api
# Or all of it (API, worker, PostgreSQL, Redis, a mail catcher): docker compose up (compose.yaml)
# Stop with SIGTERM (docker stop): requests in flight are answered, streams told to reconnect.

FROM python:3.11-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The dependencies exactly as locked: a layer that changes only with uv.lock.
RUN uv sync --frozen --no-dev --no-install-project
COPY api ./api
COPY migrations ./migrations
COPY seed ./seed
# Our package as a wheel (not editable), with the migrations and seed data bundled in it.
# tests/ops/test_image.py runs these same steps, then migrate, seed, serve and a signature.
RUN uv build --wheel --out-dir /dist \
    && uv pip install --python /opt/venv/bin/python --no-deps /dist/*.whl

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    VAR_DIR=/var/lib/advocacy \
    MAIL_DIR=/var/lib/advocacy/mail
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/advocacy/mail \
    && chown -R app:app /var/lib/advocacy
WORKDIR /app
COPY --from=build /opt/venv /opt/venv

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
STOPSIGNAL SIGTERM
# Migrations are a separate step (`advocacy migrate`), run once per deployment before serving.
CMD ["advocacy", "serve", "--host", "0.0.0.0", "--port", "8000"]
