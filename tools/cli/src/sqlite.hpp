// A thin layer over the SQLite C API for `record` and `export`: a connection, prepared
// statements, and every result code checked. A failure throws database_error with the
// file, what was being done and SQLite's own message (e.g. "database or disk is full",
// "database is locked", "file is not a database").
#ifndef ATOMCLOUD_CLI_SQLITE_HPP
#define ATOMCLOUD_CLI_SQLITE_HPP

#include <atomcloud/bytes.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace atomcloud::cli {

/// A database failure: printed, exit status 3.
struct database_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class statement;

class database {
public:
    enum class access { read_write_create, read_only };

    /// Opens (or, with read_write_create, creates) `path`. Nothing is read yet: a file
    /// that is not a database is found by the first statement.
    database(std::string path, access mode);
    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    /// Runs SQL without results (several statements allowed); `doing` names the step in
    /// the error message.
    void exec(const char* sql, std::string_view doing);
    /// Throws database_error for result code `rc` while `doing`.
    [[noreturn]] void fail(int rc, std::string_view doing) const;

    const std::string& path() const noexcept { return path_; }
    sqlite3* handle() const noexcept { return db_; }
    std::int64_t last_insert_rowid() const noexcept;

private:
    std::string path_;
    sqlite3* db_ = nullptr;
};

/// A prepared statement. Parameters are numbered from 1, columns from 0.
class statement {
public:
    statement(database& db, std::string_view sql, std::string_view doing);
    ~statement();
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    void bind(int i, std::int64_t v);
    void bind(int i, std::optional<std::int64_t> v);
    void bind(int i, std::string_view text); ///< copied by SQLite
    void bind_blob(int i, bytes_view data);  ///< kept by reference until reset()
    void bind_null(int i);

    /// Steps once: true with a row to read, false when done.
    bool step();
    /// Ready to run again, with its parameters cleared.
    void reset() noexcept;

    bool is_null(int col) const noexcept;
    std::int64_t int64(int col) const noexcept;
    std::string_view text(int col) const noexcept;
    bytes_view blob(int col) const noexcept;

private:
    void check(int rc, const char* what) const;

    database& db_;
    std::string doing_;
    sqlite3_stmt* stmt_ = nullptr;
};

} // namespace atomcloud::cli

#endif
