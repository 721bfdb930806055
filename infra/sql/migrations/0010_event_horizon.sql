-- The oldest transaction of THIS database that holds a transaction id (db_xmin; the next id
-- to be handed out, next_xid, when none does), for the event hub (infra/event_order.py). A
-- transaction of another database of the cluster can hold no event id, so it must not hold
-- the streams up as the cluster-wide snapshot xmin would. pg_stat_activity is read as it is
-- now, not as of the statement's snapshot: ask it in a statement BEFORE the read it vouches for.
CREATE FUNCTION conveyor_xid_horizon(OUT next_xid bigint, OUT db_xmin bigint)
LANGUAGE sql VOLATILE AS $$
    SELECT n.next_xid,
           n.next_xid - coalesce((SELECT max(a) FROM (
                SELECT age(backend_xid) AS a FROM pg_stat_activity
                WHERE datname = current_database() AND backend_xid IS NOT NULL
                UNION ALL
                SELECT age(transaction) FROM pg_prepared_xacts WHERE database = current_database()
           ) running), 0)::bigint
    FROM (SELECT x::text::bigint + age(xid(x)) AS next_xid
          FROM pg_snapshot_xmin(pg_current_snapshot()) AS x) AS n
$$;
