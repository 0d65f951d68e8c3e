#include "sqlite.hpp"

#include "output.hpp"

#include <sqlite3.h>

#include <cstring>

namespace atomcloud::cli {

database::database(std::string path, access mode) : path_(std::move(path)) {
    const int flags = (mode == access::read_only ? SQLITE_OPEN_READONLY
                                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                      SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        // The handle exists also after a failed open (with its message): freed here, as
        // the destructor does not run.
        try {
            fail(rc, "opening it");
        } catch (...) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
            throw;
        }
    }
    sqlite3_extended_result_codes(db_, 1);
    // Another connection writing (or checkpointing): wait for it rather than fail at once.
    sqlite3_busy_timeout(db_, 5000);
}

database::~database() {
    // Statements are finalised before (they are declared after the database).
    if (db_)
        sqlite3_close_v2(db_);
}

void database::fail(int rc, std::string_view doing) const {
    std::string text = "database '" + path_ + "': ";
    text += doing;
    text += ": ";
    // The connection's message is the most precise, when it is about this error.
    const char* message =
        db_ && sqlite3_extended_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    text += message;
    const int os_error = db_ ? sqlite3_system_errno(db_) : 0;
    if ((rc & 0xFF) == SQLITE_CANTOPEN || (rc & 0xFF) == SQLITE_IOERR) {
        if (os_error != 0) {
            text += " (";
            text += std::strerror(os_error);
            text += ")";
        }
    }
    throw database_error(text);
}

void database::exec(const char* sql, std::string_view doing) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        fail(rc, doing);
}

std::int64_t database::last_insert_rowid() const noexcept {
    return sqlite3_last_insert_rowid(db_);
}

statement::statement(database& db, std::string_view sql, std::string_view doing)
    : db_(db), doing_(doing) {
    const int rc =
        sqlite3_prepare_v2(db_.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK)
        db_.fail(rc, doing_);
}

statement::~statement() {
    sqlite3_finalize(stmt_);
}

void statement::check(int rc, const char* what) const {
    if (rc != SQLITE_OK)
        db_.fail(rc, doing_ + " (" + what + ")");
}

void statement::bind(int i, std::int64_t v) {
    check(sqlite3_bind_int64(stmt_, i, static_cast<sqlite3_int64>(v)), "binding");
}

void statement::bind(int i, std::optional<std::int64_t> v) {
    if (v)
        bind(i, *v);
    else
        bind_null(i);
}

void statement::bind(int i, std::string_view text) {
    check(sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
          "binding");
}

void statement::bind_blob(int i, bytes_view data) {
    // A null pointer would bind NULL: an empty payload is a zero-length blob.
    if (data.empty())
        check(sqlite3_bind_zeroblob(stmt_, i, 0), "binding");
    else
        check(sqlite3_bind_blob64(stmt_, i, data.data(), data.size(), SQLITE_STATIC), "binding");
}

void statement::bind_null(int i) {
    check(sqlite3_bind_null(stmt_, i), "binding");
}

bool statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    // Reset now, so the connection's message is about this statement's error.
    sqlite3_reset(stmt_);
    db_.fail(rc, doing_);
}

void statement::reset() noexcept {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool statement::is_null(int col) const noexcept {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t statement::int64(int col) const noexcept {
    return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, col));
}

std::string_view statement::text(int col) const noexcept {
    const auto* p = sqlite3_column_text(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string_view();
}

bytes_view statement::blob(int col) const noexcept {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? bytes_view(static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n))
             : bytes_view();
}

} // namespace atomcloud::cli
