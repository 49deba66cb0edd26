-- What pulling feeds needs beyond 001: feeds removed from the configuration keep their
-- history, a lease lets one process at a time run a feed, a misconfigured feed says
-- why, and each run counts its pages and bytes.

ALTER TABLE feed_source
	-- false once the [feed.NAME] section is gone: its runs and batches stay.
	ADD COLUMN configured	boolean NOT NULL DEFAULT true,
	-- Why the feed cannot run as configured (an unknown agency); NULL when it can.
	ADD COLUMN problem	text,
	-- The process running the feed ("host:pid") and until when, unless it renews
	-- the lease with each chunk it commits. An expired lease may be taken over.
	ADD COLUMN lease_owner	text,
	ADD COLUMN lease_until	timestamptz,
	-- The configured values the feed last ran with, shown by GET /v1/feeds.
	ADD COLUMN schedule_seconds integer CHECK (schedule_seconds > 0),
	ADD CONSTRAINT feed_source_lease CHECK ((lease_owner IS NULL) = (lease_until IS NULL));
COMMENT ON COLUMN feed_source.cursor IS
    'Where the next pull starts, as JSON: {"url": page, "skip": records of that page '
    'already committed, "etag": the page''s ETag when it was interrupted}.';

ALTER TABLE feed_run
	ADD COLUMN pages	integer NOT NULL DEFAULT 0 CHECK (pages >= 0),
	ADD COLUMN bytes	bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
	-- The last URL fetched: where a failure happened.
	ADD COLUMN url		text,
	ADD COLUMN lease_owner	text;

-- A run left without an end by a crash is closed by the next process that takes the
-- feed's lease; this finds them quickly.
CREATE INDEX feed_run_open_idx ON feed_run (feed_id) WHERE status IS NULL;
