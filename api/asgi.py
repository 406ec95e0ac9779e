"""The ASGI entry point for servers: `uvicorn api.asgi:app`."""

import gc
import sys

# A server process has two busy threads: the event loop and the group-commit writer
# (api.groupcommit), which holds SQLite's write lock (and the other processes' writers wait on
# it) for its whole batch. Each statement it runs lets go of the GIL; getting it back from a
# busy event loop took up to the default switch interval, 5 ms, per statement, with the lock
# held. 0.5 ms: signing on SQLite 433-434/s -> 457-464/s in three alternating pairs of 12 s
# runs on a loaded machine (BENCHMARKS.md has the quiet-machine figures).
GIL_SWITCH_INTERVAL_SECONDS = 0.0005
sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)

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
