// The database of `atomcloud record` (see docs/record.md): its schema and the times as
// they are shown.
#ifndef ATOMCLOUD_CLI_RECORD_DB_HPP
#define ATOMCLOUD_CLI_RECORD_DB_HPP

#include "sqlite.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace atomcloud::cli {

/// The schema version this tool writes and reads (meta.schema_version).
inline constexpr int record_schema_version = 1;

/// Sets the journal (WAL) and the durability (synchronous=NORMAL), creates what is missing
/// of the schema and checks its version (database_error for another version).
void create_record_schema(database& db);

/// Checks that `db` is a database `record` wrote, of a version this tool reads.
void check_record_schema(database& db);

/// Microseconds since the epoch.
std::int64_t to_unix_us(std::chrono::system_clock::time_point t);

/// ISO 8601 with microseconds in the zone `utc_offset` (the platform's +08:00 by default),
/// e.g. "2024-05-06T14:00:00.123456+08:00".
std::string iso_time(std::int64_t unix_us,
                     std::chrono::minutes utc_offset = std::chrono::minutes(8 * 60));

} // namespace atomcloud::cli

#endif
