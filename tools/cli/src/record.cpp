// atomcloud record: every message of a set of devices into SQLite, through
// atomcloud::stream (live, and backfilled from the history after outages), one
// transaction per batch with the devices' cursors, so that a restart continues exactly
// where the database stops. The schema: docs/record.md.
#include "commands.hpp"
#include "record_db.hpp"
#include "stop_triggers.hpp"

#include <atomcloud/stream.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <map>
#include <sys/file.h>
#include <unistd.h>

namespace atomcloud::cli {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const char* kind_of(const stream_device& d) noexcept {
    return std::holds_alternative<device_number>(d) ? "dtu" : "nbiot";
}

std::string now_iso() {
    return iso_time(to_unix_us(std::chrono::system_clock::now()));
}

// The progress line on stderr, when stderr is a terminal: rewritten in place.
class progress_line {
public:
    progress_line() : tty_(::isatty(STDERR_FILENO) == 1) {}
    void show(const std::string& text) {
        if (!tty_ || text == shown_)
            return;
        std::string line = "\r" + text;
        if (text.size() < shown_.size())
            line.append(shown_.size() - text.size(), ' ');
        std::cerr << line << std::flush;
        shown_ = text;
    }
    // Before any other line on stderr.
    void clear() {
        if (!tty_ || shown_.empty())
            return;
        std::cerr << '\r' << std::string(shown_.size(), ' ') << '\r' << std::flush;
        shown_.clear();
    }

private:
    bool tty_;
    std::string shown_;
};

// An exclusive lock on the database file for the whole run: two recorders of the same
// devices in one database would store their messages twice. (flock(), which SQLite's
// POSIX locks do not see; the descriptor is closed after the database.)
class file_lock {
public:
    explicit file_lock(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0)
            throw database_error("database '" + path + "': cannot open it to lock it (" +
                                 std::strerror(errno) + ")");
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            ::close(fd_);
            fd_ = -1;
            if (e == EWOULDBLOCK)
                throw database_error("database '" + path +
                                     "' is in use by another `atomcloud record`");
            throw database_error("database '" + path + "': cannot lock it (" + std::strerror(e) +
                                 ")");
        }
    }
    ~file_lock() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;

private:
    int fd_;
};

struct stored_device {
    std::string kind;
    std::optional<std::string> cursor;
};

std::map<std::string, stored_device> read_devices(database& db) {
    std::map<std::string, stored_device> out;
    statement q(db, "SELECT number, kind, cursor FROM devices", "reading its devices");
    while (q.step()) {
        stored_device d{std::string(q.text(1)), std::nullopt};
        if (!q.is_null(2))
            d.cursor = std::string(q.text(2));
        out.emplace(std::string(q.text(0)), std::move(d));
    }
    return out;
}

// Writes the stream's batches: one transaction each, with the cursors they advanced.
class recorder {
public:
    explicit recorder(database& db)
        : db_(db),
          insert_message_(db,
                          "INSERT INTO messages(number, cloud_time_us, received_at_us, origin, "
                          "payload) VALUES(?1, ?2, ?3, ?4, ?5)",
                          "storing a message"),
          insert_gap_(db,
                      "INSERT INTO gaps(number, from_us, to_us, reason, recorded_at_us, "
                      "after_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                      "storing a gap"),
          save_cursor_(db,
                       "INSERT INTO devices(number, kind, cursor, added_at) "
                       "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(number) DO UPDATE SET "
                       "cursor = excluded.cursor",
                       "saving a cursor"),
          last_id_(db, "SELECT max(id) FROM messages WHERE number = ?1",
                   "reading a device's last message") {}

    // Adds the devices (those there already keep their cursor, `cursors` gives the
    // others theirs when the stream has one).
    void add_devices(const std::vector<stream_device>& devices,
                     const std::vector<std::optional<stream_cursor>>& cursors) {
        statement add(db_,
                      "INSERT INTO devices(number, kind, cursor, added_at) VALUES(?1, ?2, ?3, ?4) "
                      "ON CONFLICT(number) DO UPDATE SET cursor = "
                      "coalesce(devices.cursor, excluded.cursor)",
                      "adding the devices");
        const std::string now = now_iso();
        transaction([&] {
            for (std::size_t i = 0; i < devices.size(); ++i) {
                add.bind(1, device_text(devices[i]));
                add.bind(2, std::string_view(kind_of(devices[i])));
                if (cursors[i] && (cursors[i]->anchor_time || cursors[i]->since))
                    add.bind(3, std::string_view(cursors[i]->to_string()));
                else
                    add.bind_null(3);
                add.bind(4, std::string_view(now));
                add.step();
                add.reset();
            }
        });
    }

    // Stores the batch's messages and gaps and the cursors after it, all or nothing.
    void store(const stream_batch& batch) {
        bool any = !batch.cursors().empty();
        for (const auto& ev : batch)
            any = any || std::holds_alternative<stream_message>(ev) ||
                  std::holds_alternative<stream_gap>(ev);
        if (!any)
            return;
        const auto now = std::chrono::system_clock::now();
        const std::string now_text = iso_time(to_unix_us(now));
        std::size_t live = 0, backfilled = 0, gaps = 0;
        transaction([&] {
            for (const auto& ev : batch) {
                if (const auto* m = std::get_if<stream_message>(&ev)) {
                    const std::string_view number = device_text(m->device);
                    insert_message_.bind(1, number);
                    if (m->cloud_time)
                        insert_message_.bind(2, m->cloud_time->time_since_epoch().count());
                    else
                        insert_message_.bind_null(2);
                    insert_message_.bind(3, to_unix_us(m->received_at));
                    insert_message_.bind(4, std::string_view(to_string(m->origin)));
                    insert_message_.bind_blob(5, m->payload);
                    insert_message_.step();
                    insert_message_.reset();
                    last_ids_[std::string(number)] = db_.last_insert_rowid();
                    ++(m->origin == message_origin::live ? live : backfilled);
                } else if (const auto* g = std::get_if<stream_gap>(&ev)) {
                    const std::string_view number = device_text(g->device);
                    insert_gap_.bind(1, number);
                    insert_gap_.bind(2, time_of(g->from));
                    insert_gap_.bind(3, time_of(g->to));
                    insert_gap_.bind(4, std::string_view(to_string(g->reason)));
                    insert_gap_.bind(5, to_unix_us(now));
                    insert_gap_.bind(6, last_id(number));
                    insert_gap_.step();
                    insert_gap_.reset();
                    ++gaps;
                }
            }
            for (const auto& c : batch.cursors()) {
                save_cursor_.bind(1, device_text(c.device));
                save_cursor_.bind(2, std::string_view(kind_of(c.device)));
                save_cursor_.bind(3, std::string_view(c.to_string()));
                save_cursor_.bind(4, std::string_view(now_text));
                save_cursor_.step();
                save_cursor_.reset();
            }
        });
        live_ += live;
        backfilled_ += backfilled;
        gaps_ += gaps;
    }

    std::size_t stored() const noexcept { return live_ + backfilled_; }
    std::size_t live() const noexcept { return live_; }
    std::size_t backfilled() const noexcept { return backfilled_; }
    std::size_t gaps() const noexcept { return gaps_; }

private:
    static std::optional<std::int64_t> time_of(const std::optional<packet_time>& t) {
        if (!t)
            return std::nullopt;
        return t->time_since_epoch().count();
    }

    // The id of the device's newest message in the database.
    std::optional<std::int64_t> last_id(std::string_view number) {
        const auto it = last_ids_.find(std::string(number));
        if (it != last_ids_.end())
            return it->second;
        last_id_.bind(1, number);
        std::optional<std::int64_t> id;
        if (last_id_.step() && !last_id_.is_null(0))
            id = last_id_.int64(0);
        last_id_.reset();
        last_ids_.emplace(std::string(number), id);
        return id;
    }

    template <class Fn>
    void transaction(Fn&& fn) {
        db_.exec("BEGIN IMMEDIATE", "starting a transaction");
        try {
            fn();
            db_.exec("COMMIT", "committing a transaction");
        } catch (...) {
            insert_message_.reset();
            insert_gap_.reset();
            save_cursor_.reset();
            last_id_.reset();
            last_ids_.clear(); // may hold ids of rows rolled back
            try {
                db_.exec("ROLLBACK", "rolling back");
            } catch (const database_error&) {
                // Already rolled back by SQLite (e.g. after SQLITE_FULL).
            }
            throw;
        }
    }

    database& db_;
    statement insert_message_;
    statement insert_gap_;
    statement save_cursor_;
    statement last_id_;
    std::map<std::string, std::optional<std::int64_t>> last_ids_;
    std::size_t live_ = 0;
    std::size_t backfilled_ = 0;
    std::size_t gaps_ = 0;
};

// The devices of the command line, the groups and --all-devices, each once.
// Returns an exit status on a failed REST call (after reporting it).
std::optional<int> resolve_devices(const record_args& a, const config& cfg,
                                   std::vector<stream_device>& out) {
    std::map<std::string, const char*> seen; // number -> kind
    auto want = [&](stream_device d) {
        const std::string text(device_text(d));
        const auto [it, added] = seen.emplace(text, kind_of(d));
        if (!added && std::string_view(it->second) != kind_of(d))
            throw usage_error("'" + text +
                              "' is given both as a device number and as an NB-IoT id");
        if (added)
            out.push_back(std::move(d));
    };
    for (const auto& n : a.numbers)
        want(parse_number(n));
    for (const auto& id : a.nbiot_ids)
        want(parse_nbiot(id));
    if (a.groups.empty() && !a.all_devices)
        return std::nullopt;

    asio::io_context io;
    rest_client api(io, cfg);
    error_code ec;
    diagnostics diag;
    std::vector<std::int64_t> groups = a.groups;
    if (a.all_devices) {
        const auto all = api.list_groups(a.org, ec, diag);
        if (ec)
            return report(ec, diag, "record: listing the groups");
        for (const auto& g : all)
            groups.push_back(g.id);
    }
    for (const std::int64_t group : groups) {
        const auto devices = api.list_devices(a.org, group, ec, diag);
        if (ec)
            return report(ec, diag,
                          "record: listing the devices of group " + std::to_string(group));
        for (const auto& d : devices) {
            if (d.type == device_type::nbiot) {
                if (auto id = nbiot_id::parse(d.number)) {
                    want(*id);
                    continue;
                }
            } else if (auto n = device_number::parse(d.number)) {
                want(*n);
                continue;
            } else if (auto id = nbiot_id::parse(d.number)) {
                want(*id); // of unknown type, and not a device number: an NB-IoT id
                continue;
            }
            std::cerr << "atomcloud: warning: skipping device " << d.id << " of group " << group
                      << ": its number '" << terminal_safe(d.number)
                      << "' is neither a device number nor an NB-IoT id" << std::endl;
        }
    }
    return std::nullopt;
}

struct record_state {
    bool stopping = false;
    bool receiving = true;
    std::size_t links = 0;
    std::optional<std::string> db_failure;
};

} // namespace

int run_record(const global_options& g, const record_args& a) {
    if (a.numbers.empty() && a.nbiot_ids.empty() && a.groups.empty() && !a.all_devices)
        throw usage_error("record needs devices: --number, --nbiot-id, --group or --all-devices");
    if (a.db.empty())
        throw usage_error("record needs --db FILE");
    config cfg = make_config(g);
    std::optional<std::chrono::system_clock::time_point> since;
    if (!a.since.empty())
        since = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
            parse_time_option(a.since, "--since", cfg.server_utc_offset));
    for (const auto& n : a.numbers)
        parse_number(n);
    for (const auto& id : a.nbiot_ids)
        parse_nbiot(id);

    progress_line progress;
    cfg.log.sink = [print = std::move(cfg.log.sink), &progress,
                    all = g.verbose](log_level l, std::string_view m) {
        if (all || l == log_level::warning)
            progress.clear();
        print(l, m);
    };

    std::optional<file_lock> lock; // released after the database is closed
    std::optional<database> db;
    std::optional<recorder> rec;
    std::vector<stream_device> devices;
    std::map<std::string, stored_device> stored;
    try {
        db.emplace(a.db, database::access::read_write_create);
        create_record_schema(*db);
        lock.emplace(a.db);
        rec.emplace(*db);
        stored = read_devices(*db);
    } catch (const database_error& e) {
        std::cerr << "atomcloud: error: " << terminal_safe(e.what()) << std::endl;
        return exit_failure;
    }
    if (const auto status = resolve_devices(a, cfg, devices))
        return *status;
    if (devices.empty())
        throw usage_error("no devices to record (the groups have none)");

    asio::io_context io;
    stream_options opts;
    opts.since = since;
    opts.skip_heartbeats = a.no_heartbeat;
    stream st(io.get_executor(), cfg, a.org, std::move(opts));

    // Devices with a stored cursor continue from it; the others start (from --since or
    // now), and their starting cursor is stored so that a restart before their first
    // message starts from the same point.
    std::vector<std::optional<stream_cursor>> start_cursors;
    try {
        for (const auto& d : devices) {
            const auto it = stored.find(std::string(device_text(d)));
            if (it != stored.end() && it->second.kind != kind_of(d))
                throw usage_error("'" + std::string(device_text(d)) + "' is recorded in '" + a.db +
                                  "' as kind '" + it->second.kind + "', not '" + kind_of(d) + "'");
            if (it != stored.end() && it->second.cursor) {
                const auto c = stream_cursor::parse(*it->second.cursor);
                if (!c || c->device != d)
                    throw database_error("database '" + a.db + "': the stored cursor of '" +
                                         std::string(device_text(d)) +
                                         "' is not one this atomcloud reads: '" +
                                         *it->second.cursor + "'");
                st.add(*c);
            } else {
                st.add(d);
            }
            start_cursors.push_back(st.cursor(d));
        }
        rec->add_devices(devices, start_cursors);
    } catch (const database_error& e) {
        std::cerr << "atomcloud: error: " << terminal_safe(e.what()) << std::endl;
        return exit_failure;
    }

    record_state state;
    error_code run_ec;
    diagnostics run_diag;
    asio::steady_timer ticker(io);

    auto note = [&](const std::string& line) {
        progress.clear();
        std::cerr << terminal_safe(line) << std::endl;
    };
    // A signal stops the stream; what it handed over until then is stored. A second one
    // ends at once (every batch stored so far is committed: transactions run between
    // handlers).
    stop_triggers triggers(io, [&] {
        if (state.stopping) {
            io.stop();
            return;
        }
        state.stopping = true;
        st.stop();
    });
    triggers.arm();

    // The progress line, at most four times a second.
    std::function<void(const error_code&)> on_tick = [&](const error_code& ec) {
        if (ec || !state.receiving)
            return;
        const auto s = st.status();
        progress.show("atomcloud: " + std::to_string(rec->stored()) + " stored, " +
                      std::to_string(s.backfilled) + " backfilled, " + std::to_string(s.gaps) +
                      " gaps, " + std::to_string(s.held_messages) + " held");
        ticker.expires_after(250ms);
        ticker.async_wait(on_tick);
    };
    ticker.expires_after(250ms);
    ticker.async_wait(on_tick);

    st.async_run(run_diag, [&](const error_code& ec) {
        run_ec = ec;
        // A permanent failure: the events still pending are handed over, then the
        // receive loop ends.
        if (ec && ec != client_errc::session_stopped)
            st.stop();
    });

    const std::size_t count = devices.size();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                auto [ec, batch] = co_await st.async_receive(asio::as_tuple(asio::use_awaitable));
                if (ec)
                    break;
                try {
                    rec->store(batch);
                } catch (const database_error& e) {
                    state.db_failure = e.what();
                    break;
                }
                for (const auto& ev : batch) {
                    if (const auto* gap = std::get_if<stream_gap>(&ev)) {
                        std::string line =
                            "atomcloud: warning: gap in the messages of " +
                            std::string(device_text(gap->device)) + " from " +
                            (gap->from ? iso_time(gap->from->time_since_epoch().count())
                                       : std::string("the previous message")) +
                            " to " +
                            (gap->to ? iso_time(gap->to->time_since_epoch().count())
                                     : std::string("the next message")) +
                            " (" + to_string(gap->reason);
                        if (gap->ec)
                            line += ": " + gap->ec.message();
                        note(line + ")");
                    } else if (std::holds_alternative<session_connected>(ev)) {
                        if (++state.links == 1)
                            note("atomcloud: connected; recording " + std::to_string(count) +
                                 " device(s) into " + a.db);
                        else
                            note("atomcloud: reconnected; backfilling what was missed");
                    } else if (const auto* down = std::get_if<session_disconnected>(&ev)) {
                        if (!state.stopping && down->reason != client_errc::session_stopped)
                            note("atomcloud: connection lost (" + down->reason.message() +
                                 "); reconnecting");
                    } else if (const auto* pe = std::get_if<protocol_error>(&ev)) {
                        note("atomcloud: warning: ignored a malformed message from the server (" +
                             pe->ec.message() + ")");
                    }
                }
            }
            state.receiving = false;
            st.stop();
            triggers.cancel();
            ticker.cancel();
        },
        asio::detached);
    io.run();

    progress.clear();
    std::cerr << "atomcloud: stored " << rec->stored() << " messages (" << rec->live() << " live, "
              << rec->backfilled() << " backfilled) and " << rec->gaps() << " gaps of " << count
              << " device(s) in " << terminal_safe(a.db) << std::endl;
    if (state.db_failure) {
        std::cerr << "atomcloud: error: " << terminal_safe(*state.db_failure) << std::endl;
        return exit_failure;
    }
    if (run_ec && run_ec != client_errc::session_stopped &&
        run_ec != asio::error::operation_aborted)
        return report(run_ec, run_diag, "record");
    return exit_ok;
}

} // namespace atomcloud::cli
