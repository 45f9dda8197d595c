-- The highest event id ever given. Without it SQLite gives a new row max(id) + 1, so after
-- retention deleted the newest events an id could come back, and a reader that follows the log
-- by id (the webhook follower, with its cursor persisted elsewhere) would skip the new events that
-- reuse it. The writer assigns ids from here and moves it on in each commit.
CREATE TABLE event_ids (
    last INTEGER NOT NULL
);
INSERT INTO event_ids (last) SELECT coalesce(max(id), 0) FROM events;
