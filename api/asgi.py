"""The ASGI entry point for servers: `uvicorn api.asgi:app`."""

import gc

# Building the app makes a few hundred thousand long-lived objects (models, schemas, routes):
# the cyclic collector ran ~340 times over them, a tenth of the import's CPU. Collect once at
# the end instead, and freeze what is left: it lives as long as the process, later collections
# skip it, and forked workers (api.cli serve) do not copy its pages by touching it.
gc.disable()
try:
    from api.capacity import install_overload_answer
    from api.main import create_app

    # Imported by every server process (each worker of `advocacy serve --workers N` too).
    install_overload_answer()
    app = create_app()
finally:
    gc.collect()
    gc.freeze()
    gc.enable()
