"""``python -m service``: the ``dom`` command (``serve``, ``db upgrade``, ``shadow export`` ...)."""

from service.cli import app

app()
