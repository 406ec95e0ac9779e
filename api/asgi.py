"""The ASGI entry point for servers: `uvicorn api.asgi:app`."""

import gc

# Building the app makes ~215,000 long-lived objects (models, schemas, routes): the cyclic
# collector ran ~340 times over them, a tenth of the import's CPU. It stays off until the app
# is built, and what was built is then frozen: it lives as long as the process, collections
# skip it, and forked workers (api.cli serve) do not copy its pages by touching it. Not
# collected first: that pass took 0.2 s to find ~1,100 unreachable objects, left frozen.
gc.disable()
try:
    from api.capacity import install_overload_answer
    from api.main import create_app

    # Imported by every server process (each worker of `advocacy serve --workers N` too).
    install_overload_answer()
    app = create_app()
finally:
    gc.freeze()
    gc.enable()
