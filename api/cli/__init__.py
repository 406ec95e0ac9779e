"""The `advocacy` command: migrate, seed, serve, verify-citations, ..."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from api.config import get_settings
from api.resources import resource_dir

app = typer.Typer(
    help="Minimum Arrest Age advocacy API: operate the service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SEED_DIR = resource_dir("seed")


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database in DATABASE_URL to REVISION (default: the latest).

    Run once per deployment, before starting workers; migrating at worker start-up races.
    """
    from api.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database migrated to {revision}")


@app.command()
def seed(
    directory: Annotated[
        Path, typer.Option(help="Folder with incident.json and petitions.json.")
    ] = SEED_DIR,
) -> None:
    """Load the fact base and the petition. Idempotent: rows that exist are left as they are."""
    from api.cli.seeding import load_seed
    from api.db import Database

    database = Database(get_settings())
    try:
        with database.session(write=True) as session:
            added = load_seed(session, directory)
    finally:
        database.dispose()
    summary = ", ".join(f"{count} {kind}" for kind, count in added.items() if count) or "nothing"
    typer.echo(f"seed loaded: added {summary}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Serve the API with uvicorn. Run `advocacy migrate` first.

    On SIGTERM: stops accepting, answers the requests in flight, ends event streams (clients
    reconnect elsewhere), sends the mail batch in hand, then exits.
    """
    settings = get_settings()
    # Before prometheus_client is first imported, here and in the worker processes.
    from api.cli.metricsdir import own_metrics_dir

    own_metrics_dir(settings.var_dir)
    import uvicorn

    from api.capacity import max_connections, raise_descriptor_limit
    from api.http_protocol import CorkedHttpToolsProtocol
    from api.logs import configure_logging

    raise_descriptor_limit()  # before the workers start: they inherit it
    configure_logging(settings)
    if workers > 1:
        _fork_workers_from_a_loaded_app()
        _workers_take_connections_in_turn()
        _warn_of_replaced_workers()
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        http=CorkedHttpToolsProtocol,  # a response's head and body in one write
        log_level=settings.log_level.lower(),
        log_config=None,  # api.logs (LOG_FORMAT, control characters escaped)
        access_log=False,  # api.middleware.access_log logs route templates, not paths
        proxy_headers=False,  # X-Forwarded-For is judged by TRUSTED_PROXIES instead
        server_header=False,
        # Event streams are long-lived; don't let them hold a shutdown for minutes.
        timeout_graceful_shutdown=10,
        # Past this many connections (each a file descriptor) uvicorn answers 503 at once
        # instead of running out of descriptors and dropping connections unanswered.
        limit_concurrency=max_connections(settings),
    )


def _fork_workers_from_a_loaded_app() -> None:
    """Import the app once, here in the supervisor, and fork each worker from it.

    uvicorn spawns each worker as a fresh interpreter that imports everything again (FastAPI,
    SQLAlchemy, pydantic, ~120 modules, every route and model built): most of a cold start,
    paid by every worker at once on the same cores, and again for each worker restarted after
    a crash. A forked worker starts with all of it built, shared copy-on-write, as a
    preloading server does. The app holds no connection, thread or open file before its
    lifespan starts (api.main builds nothing that connects); what a worker opens is its own.
    The database engine's pool is left behind in the child all the same, as SQLAlchemy
    advises for a fork, in case anything did connect in the supervisor."""
    import multiprocessing
    import os

    import uvicorn._subprocess

    from api.asgi import app as loaded
    from api.petitions.validation import zip_place

    zip_place("32801")  # the ZIP table too: loaded once, shared, not once per worker
    os.register_at_fork(after_in_child=lambda: loaded.state.database.engine.dispose(close=False))
    # uvicorn's worker processes come from this context (pinned uvicorn: a test starts
    # `serve --workers 2` and checks its workers are forked).
    uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]


def _workers_take_connections_in_turn() -> None:
    """Each worker takes a new connection only while it holds no more than the least busy
    other one (api.accepting says why and how). uvicorn's workers build their server from
    this name (pinned uvicorn: a test checks that a burst of connections is split evenly)."""
    import uvicorn.supervisors.multiprocess

    from api.accepting import ConnectionShares, TakingTurnsServer

    TakingTurnsServer.shares = ConnectionShares()  # made here, shared by the forked workers
    uvicorn.supervisors.multiprocess.Server = TakingTurnsServer  # type: ignore[misc]


def _warn_of_replaced_workers() -> None:
    """Log a WARNING when the supervisor replaces a worker: one that died, or that it killed
    because it missed the health check (no answer to a ping for `timeout_worker_healthcheck`,
    5 s). uvicorn says so only at INFO; each such replacement broke that worker's open
    connections, which an operator needs to see at the default LOG_LEVEL. (Pinned uvicorn: a
    test kills a worker and reads the warning.)"""
    from uvicorn.supervisors.multiprocess import Multiprocess

    keep_alive = Multiprocess.keep_subprocess_alive

    def keep_subprocess_alive(self: Multiprocess) -> None:
        running = {process: process.process.is_alive() for process in self.processes}
        keep_alive(self)
        for process, was_running in running.items():
            if process in self.processes:
                continue
            if was_running:
                how = "the supervisor killed it: no answer to its health check"
            elif (code := process.exitcode or 0) < 0:
                how = f"it was ended by signal {-code}"
            else:
                how = f"it exited with code {code}"
            logging.getLogger("api.workers").warning(
                "worker process %s was replaced: %s", process.pid, how
            )

    Multiprocess.keep_subprocess_alive = keep_subprocess_alive  # type: ignore[method-assign]


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Send what is due, then exit.")] = False,
) -> None:
    """Send queued mail (the outbox) through SMTP_URL, or to .eml files under MAIL_DIR.

    `advocacy serve` runs one in-process by default (MAIL_WORKER_IN_PROCESS); run this when
    serving with MAIL_WORKER_IN_PROCESS=false, or beside several API processes. Any number of
    workers may run at once: each mail is claimed by one.
    """
    import signal
    import threading

    from api import metrics
    from api.db import Database
    from api.housekeeping import run_housekeeping, send_reminders
    from api.logs import configure_logging
    from api.mail.worker import MailWorker, backend_for

    settings = get_settings()
    configure_logging(settings)
    database = Database(settings)
    metrics.watch_pool(database.engine)
    mail_worker = MailWorker(
        database,
        settings,
        backend_for(settings),
        daily=lambda: run_housekeeping(database, settings),
        frequent=lambda: send_reminders(database, settings),
    )
    logger = logging.getLogger("api.mail.worker")
    logger.info("mail worker started (%s)", type(mail_worker.backend).__name__)
    try:
        if once:
            send_reminders(database, settings)
            typer.echo(f"{mail_worker.drain()} mails sent")
            return
        stop = threading.Event()

        def finish_batch_then_stop(signum: int, _frame: object) -> None:
            # The batch in hand is sent and recorded first: nothing leased is left behind.
            logger.info("signal %d: stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, finish_batch_then_stop)
        signal.signal(signal.SIGINT, finish_batch_then_stop)
        mail_worker.run_forever(stop)
        logger.info("mail worker stopped")
    finally:
        database.dispose()


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy (replaced if it exists).")],
) -> None:
    """Copy the SQLite database to PATH, safely while the service runs (SQLite's online backup).

    Restore: stop the service, put the copy where DATABASE_URL points, start it again. On
    PostgreSQL use pg_dump and pg_restore instead (README, "Backups").
    """
    from api.backup import BackupError, NotSqlite, backup_sqlite

    try:
        size = backup_sqlite(get_settings().database_url, path)
    except NotSqlite as exc:
        typer.echo(
            "error: advocacy backup copies SQLite databases. On PostgreSQL use pg_dump, e.g. "
            'pg_dump --format=custom --file=advocacy.dump "$DATABASE_URL" (README, Backups).',
            err=True,
        )
        raise typer.Exit(code=2) from exc
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"backup written to {path} ({size} bytes)")


@app.command()
def anonymize() -> None:
    """Erase signers' personal data on petitions closed more than RETENTION_DAYS ago.

    Counts and stats are kept. The worker also runs this once a day.
    """
    from api.db import Database
    from api.housekeeping import run_housekeeping

    settings = get_settings()
    database = Database(settings)
    try:
        erased = run_housekeeping(database, settings)
    finally:
        database.dispose()
    typer.echo(f"erased personal data of {erased} signatures")


@app.command("verify-citations")
def verify_citations(
    directory: Annotated[
        Path, typer.Argument(help="Folder holding the source texts.", exists=True, file_okay=False)
    ],
) -> None:
    """Check every stored quote against the source texts in DIRECTORY, and run the support check.

    Each file is matched to a source by its SHA-256; every quote must stand verbatim at its
    offsets. Then the support check (api/incident/support.py): every quote is a clause, not a
    bare date or name; every discrepancy is between two sources that differ; every disputed fact
    has a substantive discrepancy behind it and every status follows the rules; every petition
    `[fact:ID]` names a fact; every source label comes from its text. Exits 1 listing every
    problem and every source with no file.
    """
    from api.cli.citations import verify_citations as verify
    from api.db import Database

    database = Database(get_settings())
    try:
        with database.session() as session:
            report = verify(session, directory)
    finally:
        database.dispose()
    for source_id, file_name in sorted(report.matched_files.items()):
        typer.echo(f"source {source_id}: {file_name}")
    for problem in report.problems:
        typer.echo(f"PROBLEM {problem}", err=True)
    typer.echo(
        f"{report.checked_quotes} quotes checked against {len(report.matched_files)} files, "
        f"{len(report.problems)} problems"
    )
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("openapi")
def dump_openapi() -> None:
    """Print the OpenAPI document as JSON."""
    from api.main import create_app

    typer.echo(json.dumps(create_app().openapi(), indent=2))


@app.command("create-api-key")
def create_api_key(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. delivery-team.")],
    scopes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: petitions:write, facts:write, signatures:read, "
            "signatures:export, signatures:moderate, audit:read."
        ),
    ],
) -> None:
    """Make an API key for the admin API and print it, once: only its hash is kept.

    The key alone goes to stdout (KEY=$(advocacy create-api-key ...)); the rest to stderr.
    """
    from api.admin.api_keys import issue_api_key
    from api.admin.auth import CLI_ACTOR
    from api.db import Database

    database = Database(get_settings())
    try:
        with database.session(write=True) as session:
            key, secret = issue_api_key(session, CLI_ACTOR, name, scopes.split(","))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    finally:
        database.dispose()
    typer.echo(f"API key {key.id} '{key.name}' with scopes {', '.join(key.scopes)}:", err=True)
    typer.echo(secret)
    typer.echo(
        "Store it now: it cannot be shown again. Send it as: Authorization: Bearer <key>", err=True
    )
    if "signatures:export" in key.scopes and "signatures:read" not in key.scopes:
        typer.echo(
            "note: signatures:export only adds emails; exporting needs signatures:read too.",
            err=True,
        )


@app.command("revoke-api-key")
def revoke_api_key(
    key: Annotated[str, typer.Argument(help="The key's id, or the name of an active key.")],
) -> None:
    """Revoke an API key: from now on it is answered 401."""
    from api.admin.api_keys import revoke_key
    from api.admin.auth import CLI_ACTOR
    from api.db import Database
    from api.errors import NotFound

    database = Database(get_settings())
    try:
        with database.session(write=True) as session:
            row = revoke_key(session, CLI_ACTOR, key)
    except NotFound as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        database.dispose()
    typer.echo(f"API key {row.id} '{row.name}' revoked")


@app.command("list-api-keys")
def list_api_keys() -> None:
    """List API keys (never their secrets): id, name, first characters, scopes, state."""
    from api.admin.auth import list_api_keys as keys
    from api.db import Database

    database = Database(get_settings())
    try:
        with database.session() as session:
            rows = keys(session)
    finally:
        database.dispose()
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        typer.echo(f"{row.id}\t{row.name}\t{row.prefix}...\t{','.join(row.scopes)}\t{state}")
