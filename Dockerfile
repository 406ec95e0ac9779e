# syntax=docker/dockerfile:1
# Build:    docker build -t advocacy-api .
# Migrate:  docker run --rm -e DATABASE_URL=... advocacy-api advocacy migrate
# Serve:    docker run -p 8000:8000 -e DATABASE_URL=... -e SECRET_KEY=... advocacy-api

FROM python:3.11-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY api ./api
COPY migrations ./migrations
COPY seed ./seed

RUN uv sync --frozen --no-dev --no-editable

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
# Migrations are a separate step (`advocacy migrate`), run once per deployment before serving.
CMD ["advocacy", "serve", "--host", "0.0.0.0", "--port", "8000"]
