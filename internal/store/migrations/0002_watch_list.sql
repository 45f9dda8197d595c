-- The watch list: the rooms monitored on request, resumed when the server starts again, with
-- their options and what their supervisor knew. Times are unix milliseconds (UTC); NULL = none.
CREATE TABLE watched_rooms (
    username        TEXT PRIMARY KEY,
    give_up_offline INTEGER NOT NULL DEFAULT 0, -- started by POST /connect: stop when the host is offline
    priority        INTEGER NOT NULL DEFAULT 0, -- higher resumes first when the list exceeds --max-rooms
    proxy           TEXT    NOT NULL DEFAULT '', -- kept and returned; not used yet
    upstream        TEXT    NOT NULL DEFAULT '', -- kept and returned; not used yet
    added_at        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    offline_since   INTEGER,
    last_live_at    INTEGER,
    live_room_id    TEXT,    -- the broadcast announced (live_started) and not ended; NULL = none
    live_title      TEXT,
    live_started_at INTEGER
);
