"""The signing page served by the service: HTML pages, static assets and the live count."""
