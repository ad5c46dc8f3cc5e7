"""/metrics from a small aggregate of the jobs table, kept by a trigger (scrape cost independent
of the number of stored jobs).

Every insert, delete, and update of a job's state, priority class, start/end time or progress
appends the change of that job's contribution (-old, +new) to ``tcplab_job_metric_deltas``
(insert-only: no hot row, no lock taken on a shared row by job writers). A scrape folds the
deltas into ``tcplab_job_metric_totals`` (one writer at a time, under an advisory lock) and
reads both. Rows (``metric``, ``key1``, ``key2``, ``n``, ``total``):

* ``state``, state, priority class, jobs, 0;
* ``duration``, finished state, the ``le`` bound of the first histogram bucket holding the
  job's start-to-end time (``+Inf`` past the last), jobs, summed seconds;
* ``trials``, arm, ``''``, trials done (``progress.arms.<arm>.done``), jobs with that arm.

The bucket bounds are frozen here (a new set needs a new migration). The trigger function keeps
the search path of the migration (``SET search_path FROM CURRENT``): a writer whose connection
has another search path still updates this schema's aggregate.

Revision ID: s0004
Revises: s0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "s0004"
down_revision = "s0003"
branch_labels = None
depends_on = None

_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 14400, 86400)
_CASE = "CASE " + " ".join(f"WHEN d <= {b} THEN '{b}'" for b in _BUCKETS) + " ELSE '+Inf' END"

_ROWS_FN = f"""
CREATE FUNCTION tcplab_job_metric_rows(
    st text, pc text, t0 timestamptz, t1 timestamptz, pr jsonb
) RETURNS TABLE (metric text, key1 text, key2 text, n bigint, total double precision)
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'state'::text, st, pc, 1::bigint, 0::double precision
  UNION ALL
  SELECT 'duration', st, {_CASE}, 1, d
  FROM (SELECT greatest(0, extract(epoch FROM t1 - t0))::double precision AS d) AS x
  WHERE st IN ('succeeded', 'failed', 'cancelled') AND t0 IS NOT NULL AND t1 IS NOT NULL
  UNION ALL
  SELECT 'trials', a.key, '', (a.value ->> 'done')::numeric::bigint, 1
  FROM jsonb_each(
    CASE WHEN jsonb_typeof(pr -> 'arms') = 'object' THEN pr -> 'arms' ELSE '{{}}'::jsonb END
  ) AS a
  WHERE jsonb_typeof(a.value -> 'done') = 'number'
$$"""

_TRIGGER_FN = """
CREATE FUNCTION tcplab_jobs_metrics_trigger() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO tcplab_job_metric_deltas (metric, key1, key2, n, total)
    SELECT * FROM tcplab_job_metric_rows(
      NEW.state, NEW.priority_class, NEW.started_at, NEW.finished_at, NEW.progress);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO tcplab_job_metric_deltas (metric, key1, key2, n, total)
    SELECT r.metric, r.key1, r.key2, -r.n, -r.total FROM tcplab_job_metric_rows(
      OLD.state, OLD.priority_class, OLD.started_at, OLD.finished_at, OLD.progress) AS r;
  ELSE
    INSERT INTO tcplab_job_metric_deltas (metric, key1, key2, n, total)
    SELECT c.metric, c.key1, c.key2, sum(c.n), sum(c.total) FROM (
      SELECT r.metric, r.key1, r.key2, -r.n AS n, -r.total AS total
      FROM tcplab_job_metric_rows(
        OLD.state, OLD.priority_class, OLD.started_at, OLD.finished_at, OLD.progress) AS r
      UNION ALL
      SELECT * FROM tcplab_job_metric_rows(
        NEW.state, NEW.priority_class, NEW.started_at, NEW.finished_at, NEW.progress)
    ) AS c
    GROUP BY 1, 2, 3
    HAVING sum(c.n) <> 0 OR sum(c.total) <> 0;
  END IF;
  RETURN NULL;
END
$$"""

_WHEN = " OR ".join(
    f"OLD.{c} IS DISTINCT FROM NEW.{c}"
    for c in ("state", "priority_class", "started_at", "finished_at", "progress")
)


def upgrade() -> None:
    """The two tables, the functions, the triggers; the totals filled from the jobs there."""
    op.execute("LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE")  # no job write in between
    for name in ("tcplab_job_metric_totals", "tcplab_job_metric_deltas"):
        op.execute(
            f"CREATE TABLE {name} (metric text NOT NULL, key1 text NOT NULL, "
            "key2 text NOT NULL, n bigint NOT NULL, total double precision NOT NULL)"
        )
    op.execute("ALTER TABLE tcplab_job_metric_totals ADD PRIMARY KEY (metric, key1, key2)")
    op.execute(_ROWS_FN)
    op.execute(_TRIGGER_FN)
    op.execute(
        "CREATE TRIGGER tcplab_jobs_metrics_insert_delete AFTER INSERT OR DELETE ON jobs "
        "FOR EACH ROW EXECUTE FUNCTION tcplab_jobs_metrics_trigger()"
    )
    op.execute(
        f"CREATE TRIGGER tcplab_jobs_metrics_update AFTER UPDATE ON jobs FOR EACH ROW "
        f"WHEN ({_WHEN}) EXECUTE FUNCTION tcplab_jobs_metrics_trigger()"
    )
    op.execute(
        "INSERT INTO tcplab_job_metric_totals (metric, key1, key2, n, total) "
        "SELECT r.metric, r.key1, r.key2, sum(r.n), sum(r.total) FROM jobs, "
        "LATERAL tcplab_job_metric_rows(jobs.state, jobs.priority_class, jobs.started_at, "
        "jobs.finished_at, jobs.progress) AS r GROUP BY 1, 2, 3"
    )


def downgrade() -> None:
    """Drop the triggers, functions and tables."""
    op.execute("DROP TRIGGER IF EXISTS tcplab_jobs_metrics_update ON jobs")
    op.execute("DROP TRIGGER IF EXISTS tcplab_jobs_metrics_insert_delete ON jobs")
    op.execute("DROP FUNCTION IF EXISTS tcplab_jobs_metrics_trigger()")
    op.execute(
        "DROP FUNCTION IF EXISTS tcplab_job_metric_rows(text, text, timestamptz, "
        "timestamptz, jsonb)"
    )
    op.execute("DROP TABLE IF EXISTS tcplab_job_metric_deltas")
    op.execute("DROP TABLE IF EXISTS tcplab_job_metric_totals")
