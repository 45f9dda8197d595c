-- The event log, the sessions it is cut into, and raw captures. Times are unix milliseconds (UTC).

-- Where each room's stream continues after a restart.
CREATE TABLE rooms (
    username TEXT PRIMARY KEY,
    epoch    TEXT    NOT NULL,
    last_seq INTEGER NOT NULL
);

-- One row per continuous live stream of a room.
CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    username   TEXT    NOT NULL,
    room_id    TEXT    NOT NULL,
    epoch      TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    ended_at   INTEGER,
    end_reason TEXT,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    events     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_room ON sessions (username, id);

-- Every event as clients received it (json), with the columns summaries and leaderboards group by.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY, -- append order: history cursors
    username   TEXT    NOT NULL,
    epoch      TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    session_id INTEGER,
    type       TEXT    NOT NULL,
    msg_id     TEXT,
    at         INTEGER NOT NULL,
    user_id    TEXT,
    unique_id  TEXT,
    nickname   TEXT,
    action     TEXT,              -- social/member action, gift streak state
    gift_id    INTEGER,
    gift_name  TEXT,
    amount     INTEGER NOT NULL DEFAULT 0, -- gifts in a completed gift; likes in a like event
    diamonds   INTEGER NOT NULL DEFAULT 0, -- completed gifts only: each streak counted once
    viewers    INTEGER,                    -- roomUser only
    simulated  INTEGER NOT NULL DEFAULT 0,
    json       BLOB    NOT NULL
);
CREATE UNIQUE INDEX events_by_seq ON events (username, epoch, seq);
CREATE INDEX events_by_room ON events (username, id);
CREATE INDEX events_by_session ON events (session_id, id);
CREATE INDEX events_by_time ON events (at);

-- Seqs that clients received but the log could not keep (the writer was behind or failed).
CREATE TABLE gaps (
    username TEXT    NOT NULL,
    epoch    TEXT    NOT NULL,
    from_seq INTEGER NOT NULL,
    to_seq   INTEGER NOT NULL
);
CREATE INDEX gaps_by_room ON gaps (username, epoch, to_seq);

-- Raw upstream messages of recorded sessions, in the order they arrived.
CREATE TABLE captures (
    id         INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    method     TEXT    NOT NULL,
    msg_id     INTEGER NOT NULL DEFAULT 0,
    payload    BLOB    NOT NULL
);
CREATE INDEX captures_by_session ON captures (session_id, id);
