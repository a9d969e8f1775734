"""The sync horizon: what a `modified_after` read may serve without a later commit slipping in behind it.

A partner mirrors a list by asking `modified_after=T`, following `next` (ascending `(modified_at, id)`),
and next time asking `modified_after=<the largest modified_at it saw>`. That is only exact if no row
with a smaller `modified_at` can become visible after the read. But `modified_at` is stamped when a row
is written, not when its transaction commits: a transaction that stamps 10:00:00.100 and commits at
10:00:02 is invisible to a read at 10:00:01 that already served a row stamped 10:00:00.500 from a
shorter transaction. The partner's bookmark then passes the first row, and it is never seen.

So a `modified_after` read serves only rows stamped before the *horizon*:

    horizon = min(now, start of every transaction still open in this database) - settle

A row not yet committed belongs to a transaction that is open now (its stamp is after that transaction
started, so after the horizon) or that starts later (its stamp is after now). Either way it will land
after everything served, and the bookmark cannot pass it. Rows are held back for as long as the oldest
open transaction lasts (an idle-in-transaction session holds every sync back: that is the price of
exactness, and `idle_in_transaction_session_timeout` bounds it), never lost.

`REDLINE_SYNC_SETTLE_SECONDS` (default 2) covers what the database cannot see: the clock difference
between web/worker hosts (which stamp `modified_at`) and the database (which reports transaction
starts), and the instant between a write stamping its row and its statement reaching the database.

The open transactions are read from `pg_stat_activity`, which shows the start of other sessions of the
same database role (or of every role, for a role with `pg_read_all_stats`): give the application's role
that if other roles write to these tables. A read replica does not see the primary's transactions: sync
reads go to the primary.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import DateTimeField, Expression, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Least
from django.utils import timezone

DEFAULT_SETTLE_SECONDS = 2.0

# Client backends of this database with an open transaction, other than the one asking (a request may
# itself run in a transaction). min() of nothing is NULL, and LEAST ignores NULL.
_OLDEST_OPEN_TRANSACTION = """(
    SELECT min(xact_start) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend' AND xact_start IS NOT NULL
)"""


def settle_seconds() -> float:
    return float(getattr(settings, "REDLINE_SYNC_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))


def sync_horizon() -> Expression:
    """The horizon as an SQL expression (evaluated inside the list's own query: no extra round trip).

    `now` is the application's clock, the one that stamps `modified_at`."""
    settle = timedelta(seconds=settle_seconds())
    now = Value(timezone.now() - settle, output_field=DateTimeField())
    # Constant SQL; the one value is a bound parameter.
    oldest = RawSQL(f"{_OLDEST_OPEN_TRANSACTION} - %s", (settle,), output_field=DateTimeField())  # noqa: S611
    return Least(now, oldest)
