"""The Celery application.

With no CELERY_BROKER_URL the tasks run eagerly in the calling process (the embedded default, no broker
server needed); in production the broker is RabbitMQ. The broker only carries task messages: anything that
must happen is first written to a table (the outbox), so a lost message is re-sent by a sweeper.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("redline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
