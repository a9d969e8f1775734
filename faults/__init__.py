"""Fault scenarios (issue 8): the service under load while its parts fail, each a runnable script.

Every scenario starts its own private PostgreSQL, Redis and RabbitMQ on free ports under a temporary
folder (never the machine's servers), runs the service the way production does (gunicorn sync workers on
config.settings.production, Celery workers), breaks something, then counts what was lost or duplicated
in the database and at the receiver. Run one with `python -m faults.<scenario> [--smoke]`; see
faults/README.md and docs in faults/RESULTS.md.
"""
