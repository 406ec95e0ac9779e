"""The ASGI entry point for servers: `uvicorn api.asgi:app`."""

from api.capacity import install_overload_answer
from api.main import create_app

# Imported by every server process (each worker of `advocacy serve --workers N` too).
install_overload_answer()
app = create_app()
