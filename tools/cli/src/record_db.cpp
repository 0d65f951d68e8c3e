#include "record_db.hpp"

#include <atomcloud/time.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace atomcloud::cli {

namespace {

// The schema of docs/record.md. Every statement may run on an existing database.
constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta(
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
CREATE TABLE IF NOT EXISTS devices(
    number   TEXT PRIMARY KEY,
    kind     TEXT NOT NULL CHECK(kind IN ('dtu', 'nbiot')),
    cursor   TEXT,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages(
    id             INTEGER PRIMARY KEY,
    number         TEXT NOT NULL,
    cloud_time_us  INTEGER,
    received_at_us INTEGER NOT NULL,
    origin         TEXT NOT NULL CHECK(origin IN ('live', 'backfill')),
    payload        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_number_id ON messages(number, id);
CREATE TABLE IF NOT EXISTS gaps(
    id             INTEGER PRIMARY KEY,
    number         TEXT NOT NULL,
    from_us        INTEGER,
    to_us          INTEGER,
    reason         TEXT NOT NULL,
    recorded_at_us INTEGER NOT NULL,
    after_id       INTEGER
);
)sql";

void check_version(database& db) {
    statement q(db, "SELECT value FROM meta WHERE key = 'schema_version'",
                "reading its schema version");
    if (!q.step())
        throw database_error("database '" + db.path() +
                             "' has no schema version in its meta table");
    const std::string version(q.text(0));
    if (version != std::to_string(record_schema_version))
        throw database_error("database '" + db.path() + "' has schema version " + version +
                             "; this atomcloud reads and writes version " +
                             std::to_string(record_schema_version));
}

} // namespace

void create_record_schema(database& db) {
    // WAL: one fsync-free append per transaction, and `export` reads while `record`
    // writes. NORMAL: a commit survives the process being killed; only a power loss or an
    // OS crash can take back the last ones, and then the cursors go back with them (they
    // are in the same transaction), so the next run fetches those messages again from the
    // history (docs/record.md).
    {
        statement journal(db, "PRAGMA journal_mode=WAL", "setting the journal mode");
        const std::string mode = journal.step() ? std::string(journal.text(0)) : std::string();
        if (mode != "wal")
            throw database_error("database '" + db.path() +
                                 "': cannot use write-ahead logging (journal mode '" + mode + "')");
    }
    db.exec("PRAGMA synchronous=NORMAL", "setting synchronous=NORMAL");
    db.exec("BEGIN IMMEDIATE", "creating the schema");
    try {
        db.exec(schema_sql, "creating the schema");
        check_version(db);
        db.exec("COMMIT", "creating the schema");
    } catch (...) {
        try {
            db.exec("ROLLBACK", "rolling back");
        } catch (const database_error&) {
        }
        throw;
    }
}

void check_record_schema(database& db) {
    statement tables(db,
                     "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                     "('meta', 'devices', 'messages', 'gaps')",
                     "reading its schema");
    if (!tables.step() || tables.int64(0) != 4)
        throw database_error("database '" + db.path() +
                             "' was not written by `atomcloud record` (its tables are missing)");
    check_version(db);
}

std::int64_t to_unix_us(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

std::string iso_time(std::int64_t unix_us, std::chrono::minutes utc_offset) {
    return format_time(packet_time(std::chrono::microseconds(unix_us)), utc_offset,
                       time_format::iso);
}

} // namespace atomcloud::cli
