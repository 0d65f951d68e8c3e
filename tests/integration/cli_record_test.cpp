// atomcloud record and export, as installed, against the in-process emulator: what the
// database holds (read with SQLite itself) after live messages, a backfill, and runs
// killed at random moments; export's exact output; and the database errors.
//
// ATOMCLOUD_CLI (environment) is the path of the binary under test.
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/payload.hpp>

#include <catch2/catch.hpp>

#include "cli_process.hpp"
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <poll.h>
#include <random>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using namespace atomcloud_cli_test;
using nlohmann::json;

constexpr const char* dtu = "18846494908532689575";
constexpr const char* dtu2 = "27309143566123801957";
constexpr const char* nbiot = "b6d85634-9d34-4052-80cd-b840b75cb910";

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// A temporary directory, removed with its files.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "atomcloud-record-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const char* name) const { return (path / name).string(); }
};

// A counter of the history requests the emulator answered, made before the emulator.
struct history_counter {
    std::shared_ptr<std::atomic<std::size_t>> history_requests =
        std::make_shared<std::atomic<std::size_t>>(0);

    atomcloud::emulator::options counting() const {
        atomcloud::emulator::options o;
        o.log.level = atomcloud::log_level::info;
        o.log.sink = [n = history_requests](atomcloud::log_level, std::string_view line) {
            if (line.find("/devicepacket/") != std::string_view::npos &&
                line.find("-> 200") != std::string_view::npos)
                ++*n;
        };
        return o;
    }
};

// The emulator (counting the history requests it answered) and the environment that
// points the command at it.
struct fixture : history_counter, cli_fixture {
    fixture() : cli_fixture(counting()) {}

    void wait_history_requests(std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (*history_requests < n) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(10ms);
        }
    }
};

// ------------------------------------------------------------------------------------------
// SQLite, from the test's side

class db {
public:
    explicit db(const std::string& path, int flags = SQLITE_OPEN_READONLY) {
        const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
        INFO(path << ": " << sqlite3_errstr(rc));
        REQUIRE(rc == SQLITE_OK);
        sqlite3_busy_timeout(db_, 5000);
    }
    ~db() { sqlite3_close_v2(db_); }
    db(const db&) = delete;
    db& operator=(const db&) = delete;

    void exec(const std::string& sql) {
        char* err = nullptr;
        const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
        INFO(sql << ": " << (err ? err : ""));
        sqlite3_free(err);
        REQUIRE(rc == SQLITE_OK);
    }

    // Every row, each column as text (NULL as nullopt; blobs as their bytes).
    std::vector<std::vector<std::optional<std::string>>> rows(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        const int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
        INFO(sql << ": " << sqlite3_errmsg(db_));
        REQUIRE(rc == SQLITE_OK);
        std::vector<std::vector<std::optional<std::string>>> out;
        int step = 0;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            std::vector<std::optional<std::string>> row;
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                if (sqlite3_column_type(st, c) == SQLITE_NULL) {
                    row.emplace_back();
                    continue;
                }
                const auto* p = static_cast<const char*>(sqlite3_column_blob(st, c));
                row.emplace_back(std::string(p ? p : "", sqlite3_column_bytes(st, c)));
            }
            out.push_back(std::move(row));
        }
        sqlite3_finalize(st);
        REQUIRE(step == SQLITE_DONE);
        return out;
    }

    std::int64_t count(const std::string& sql) {
        const auto r = rows(sql);
        REQUIRE(r.size() == 1);
        return std::stoll(r[0][0].value());
    }

private:
    sqlite3* db_ = nullptr;
};

struct stored_message {
    std::optional<std::int64_t> cloud_time_us;
    std::int64_t received_at_us = 0;
    std::string origin;
    std::string payload;
};

std::vector<stored_message> messages_of(const std::string& path, const std::string& number) {
    db d(path);
    std::vector<stored_message> out;
    for (const auto& r : d.rows("SELECT cloud_time_us, received_at_us, origin, payload FROM "
                                "messages WHERE number = '" +
                                number + "' ORDER BY id")) {
        stored_message m;
        if (r[0])
            m.cloud_time_us = std::stoll(*r[0]);
        m.received_at_us = std::stoll(r[1].value());
        m.origin = r[2].value();
        m.payload = r[3].value();
        out.push_back(std::move(m));
    }
    return out;
}

std::int64_t
unix_us(std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds> t) {
    return t.time_since_epoch().count();
}

// Waits until the database holds `n` messages of each of `numbers` (while record runs).
void wait_rows(const std::string& path, const std::vector<std::string>& numbers, std::size_t n,
               process& p, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        bool all = std::filesystem::exists(path);
        if (all) {
            db d(path);
            all = d.count("SELECT count(*) FROM sqlite_schema WHERE name = 'messages'") == 1;
            for (const auto& number : numbers)
                all = all && d.count("SELECT count(*) FROM messages WHERE number = '" + number +
                                     "'") >= static_cast<std::int64_t>(n);
        }
        if (all)
            return;
        INFO("stderr of record: " << p.so_far().err);
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        p.pump(50ms);
    }
}

// "YYYY-MM-DDThh:mm:ssZ" of a system_clock time.
std::string iso_utc(std::chrono::system_clock::time_point t) {
    const std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The schema of docs/record.md.
constexpr const char* documented_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
CREATE TABLE IF NOT EXISTS devices(
    number TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK(kind IN ('dtu', 'nbiot')),
    cursor TEXT, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages(
    id INTEGER PRIMARY KEY, number TEXT NOT NULL, cloud_time_us INTEGER,
    received_at_us INTEGER NOT NULL, origin TEXT NOT NULL CHECK(origin IN ('live', 'backfill')),
    payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS messages_number_id ON messages(number, id);
CREATE TABLE IF NOT EXISTS gaps(
    id INTEGER PRIMARY KEY, number TEXT NOT NULL, from_us INTEGER, to_us INTEGER,
    reason TEXT NOT NULL, recorded_at_us INTEGER NOT NULL, after_id INTEGER);
)sql";

} // namespace

TEST_CASE("cli record: live messages are stored as sent, SIGINT ends with everything there",
          "[cli][record]") {
    fixture f;
    temp_dir dir;
    const std::string path = dir.file("live.db");
    auto dev = f.cloud.device(dtu);
    auto nb = f.cloud.device(nbiot);
    dev.connect();
    nb.connect();
    process rec({"record", "--org", "1", "--number", dtu, "--nbiot-id", nbiot, "--db", path},
                f.env);
    // Connected, and the first history read of both devices answered: what is sent from
    // now on reaches the recorder live.
    f.wait_subscribers(dtu, 1);
    f.wait_history_requests(2);

    const std::vector<std::string> payloads = {
        "plain", std::string("\xD5\xFD\xB5\xE3", 4), // 正点 in GBK
        "a,\"b\"\nc", std::string("\x00\xFF\x1B", 3), "ALIENTEK-HRTDT"};
    for (const auto& p : payloads) {
        dev.send(p);
        nb.send(p);
    }
    wait_rows(path, {dtu, nbiot}, payloads.size(), rec);
    rec.signal(SIGINT);
    const auto r = rec.wait();
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.err, "stored 10 messages (10 live, 0 backfilled) and 0 gaps of 2 device(s)"));
    CHECK_FALSE(contains(r.err, "\r")); // no progress line: stderr is not a terminal

    for (const char* number : {dtu, nbiot}) {
        INFO(number);
        const auto sent = f.cloud.device(number).sent();
        const auto got = messages_of(path, number);
        REQUIRE(got.size() == payloads.size());
        REQUIRE(sent.size() == payloads.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            CHECK(got[i].payload == payloads[i]);
            CHECK(got[i].origin == "live");
            // Known when the stream matched it with the history, and then exact.
            if (got[i].cloud_time_us)
                CHECK(*got[i].cloud_time_us == unix_us(sent[i].time));
            CHECK(got[i].received_at_us >= unix_us(sent[i].time) - 2'000'000);
        }
    }
    {
        db d(path);
        CHECK(d.count("SELECT count(*) FROM gaps") == 0);
        const auto devices = d.rows("SELECT number, kind, cursor FROM devices ORDER BY number");
        REQUIRE(devices.size() == 2);
        CHECK(devices[0][0] == dtu);
        CHECK(devices[0][1] == "dtu");
        CHECK(devices[0][2].value().rfind("v1 d ", 0) == 0);
        CHECK(devices[1][0] == nbiot);
        CHECK(devices[1][1] == "nbiot");
        CHECK(devices[1][2].value().rfind("v1 n ", 0) == 0);
        CHECK(d.rows("PRAGMA journal_mode")[0][0] == "wal");
        CHECK(d.rows("SELECT value FROM meta WHERE key = 'schema_version'")[0][0] == "1");
    }

    // export: the payloads of the DTU device in each encoding, in order.
    auto payload_column = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> args = {"export", "--db",     path,   "--number",
                                         dtu,      "--format", "jsonl"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto e = f.run(args);
        INFO(e.err);
        REQUIRE(e.status == 0);
        std::vector<std::string> out;
        std::size_t start = 0;
        while (start < e.out.size()) {
            const std::size_t end = e.out.find('\n', start);
            REQUIRE(end != std::string::npos);
            const json line = json::parse(e.out.substr(start, end - start));
            CHECK(line["number"] == dtu);
            CHECK(line["origin"] == "live");
            CHECK(line["received_at"].get<std::string>().size() == 32);
            out.push_back(line["payload"]);
            start = end + 1;
        }
        return out;
    };
    CHECK(payload_column({}) ==
          std::vector<std::string>{"70 6C 61 69 6E", "D5 FD B5 E3", "61 2C 22 62 22 0A 63",
                                   "00 FF 1B", "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54"});
    CHECK(payload_column({"--encoding", "utf8"}) ==
          std::vector<std::string>{"plain", "\\xd5\\xfd\\xb5\\xe3", "a,\"b\"\nc",
                                   std::string("\x00\\xff\x1B", 6), "ALIENTEK-HRTDT"});
    CHECK(payload_column({"--encoding", "gbk"}) ==
          std::vector<std::string>{"plain", "正点", "a,\"b\"\nc",
                                   std::string("\x00\xEF\xBF\xBD\x1B", 5), "ALIENTEK-HRTDT"});

    const auto csv = f.run({"export", "--db", path, "--number", nbiot, "--encoding", "utf8"});
    REQUIRE(csv.status == 0);
    CHECK(csv.out.rfind("number,cloud_time,received_at,origin,payload\r\n", 0) == 0);
    CHECK(contains(csv.out, ",live,\"a,\"\"b\"\"\nc\"\r\n"));
    CHECK(std::count(csv.out.begin(), csv.out.end(), '\r') == 6);
}

TEST_CASE("cli record: messages sent before the start are backfilled with their cloud times",
          "[cli][record]") {
    fixture f;
    temp_dir dir;
    const std::string path = dir.file("backfill.db");
    const auto since = iso_utc(std::chrono::system_clock::now() - 60s);
    auto dev = f.cloud.device(dtu);
    dev.connect();
    for (int i = 0; i < 25; ++i)
        dev.send(i % 5 == 0 ? std::string("same") : "before " + std::to_string(i));
    dev.send(atomcloud::default_heartbeat);

    process rec(
        {"record", "--org", "1", "--number", dtu, "--db", path, "--since", since, "--no-heartbeat"},
        f.env);
    wait_rows(path, {dtu}, 25, rec);
    rec.signal(SIGTERM);
    const auto r = rec.wait();
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(contains(r.err, "stored 25 messages (0 live, 25 backfilled)"));

    const auto sent = dev.sent();
    REQUIRE(sent.size() == 26);
    const auto got = messages_of(path, dtu);
    REQUIRE(got.size() == 25); // the heartbeat left out
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(i);
        CHECK(got[i].origin == "backfill");
        CHECK(got[i].payload == std::string(atomcloud::as_chars(sent[i].payload)));
        REQUIRE(got[i].cloud_time_us.has_value());
        CHECK(*got[i].cloud_time_us == unix_us(sent[i].time));
    }

    // A restart continues after them: nothing twice, the next message once.
    process again({"record", "--org", "1", "--number", dtu, "--db", path, "--no-heartbeat"}, f.env);
    f.wait_subscribers(dtu, 1);
    dev.send("after");
    wait_rows(path, {dtu}, 26, again);
    again.signal(SIGINT);
    CHECK(again.wait().status == 0);
    const auto all = messages_of(path, dtu);
    REQUIRE(all.size() == 26);
    CHECK(all.back().payload == "after");
}

TEST_CASE("cli record: killed at random moments and restarted, the database equals what the "
          "devices sent",
          "[cli][record]") {
    fixture f;
    temp_dir dir;
    const std::string path = dir.file("killed.db");
    const std::vector<std::string> numbers = {dtu, dtu2, nbiot};
    for (const auto& n : numbers)
        f.cloud.device(n).connect();
    const auto since = iso_utc(std::chrono::system_clock::now() - 10s);

    // The devices send all along: mostly distinct payloads, some equal ones.
    std::atomic<bool> sending{true};
    std::thread sender([&] {
        std::size_t i = 0;
        while (sending) {
            for (const auto& n : numbers)
                f.cloud.device(n).send(i % 9 == 4 ? std::string("same")
                                                  : n.substr(0, 4) + "-" + std::to_string(i));
            ++i;
            std::this_thread::sleep_for(8ms);
        }
    });
    struct stop_sender {
        std::atomic<bool>& flag;
        std::thread& t;
        ~stop_sender() {
            flag = false;
            if (t.joinable())
                t.join();
        }
    } stop{sending, sender};

    const std::vector<std::string> args = {"record",   "--org",   "1",          "--number", dtu,
                                           "--number", dtu2,      "--nbiot-id", nbiot,      "--db",
                                           path,       "--since", since};
    const auto seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> run_ms(200, 1500);
    std::int64_t stored_before_last_run = 0;
    for (int k = 0; k < 4; ++k) {
        process rec(args, f.env);
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms(rng));
        while (std::chrono::steady_clock::now() < until)
            rec.pump(20ms);
        rec.signal(SIGKILL);
        const auto r = rec.wait();
        INFO(r.err);
        CHECK(r.status == 128 + SIGKILL);
        if (std::filesystem::exists(path)) {
            db d(path);
            if (d.count("SELECT count(*) FROM sqlite_schema WHERE name = 'messages'") == 1)
                stored_before_last_run = d.count("SELECT count(*) FROM messages");
        }
    }
    sending = false;
    sender.join();

    process rec(args, f.env);
    // One more message of each device: its row shows this run is up, with its signal
    // handler in place, before the SIGINT below (the rows of earlier runs may all be
    // there already).
    for (const auto& n : numbers)
        f.cloud.device(n).send(n.substr(0, 4) + "-last");
    std::size_t most = 0;
    for (const auto& n : numbers)
        most = std::max(most, f.cloud.device(n).sent().size());
    for (const auto& n : numbers) {
        const auto sent = f.cloud.device(n).sent();
        wait_rows(path, {n}, sent.size(), rec);
    }
    rec.signal(SIGINT);
    const auto r = rec.wait();
    INFO(r.err);
    CHECK(r.status == 0);

    db d(path);
    CHECK(d.count("SELECT count(*) FROM gaps") == 0);
    for (const auto& n : numbers) {
        INFO(n);
        const auto sent = f.cloud.device(n).sent();
        const auto got = messages_of(path, n);
        REQUIRE(got.size() == sent.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            INFO(i);
            REQUIRE(got[i].payload == std::string(atomcloud::as_chars(sent[i].payload)));
            if (got[i].cloud_time_us)
                CHECK(*got[i].cloud_time_us == unix_us(sent[i].time));
        }
    }
    CHECK(most > 50);
    // The killed runs stored some, and the restarts fetched what was sent meanwhile.
    CHECK(stored_before_last_run > 0);
    CHECK(d.count("SELECT count(*) FROM messages WHERE origin = 'backfill'") > 0);
}

TEST_CASE("cli export: CSV and JSON lines, encodings, filters and gaps, exactly", "[cli][record]") {
    fixture f;
    temp_dir dir;
    const std::string path = dir.file("export.db");
    {
        db d(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        d.exec(documented_schema);
        d.exec(std::string("INSERT INTO messages(number, cloud_time_us, received_at_us, origin, "
                           "payload) VALUES") +
               "('" + dtu +
               "', 1715000000123456, 1715000000200000, 'live', "
               "CAST('ALIENTEK-HRTDT' AS BLOB)),"
               "('" +
               dtu +
               "', NULL, 1715000001000001, 'live', X'D5FDB5E3'),"
               "('" +
               nbiot +
               "', 1715000002000000, 1715000003000000, 'backfill', "
               "X'612C220AFF1B62'),"
               "('" +
               dtu +
               "', 1715000004000000, 1715000004500000, 'live', X''),"
               "('" +
               dtu + "', 1715000004500000, 1715000005000000, 'backfill', X'78C28579')");
        d.exec(std::string("INSERT INTO gaps(number, from_us, to_us, reason, recorded_at_us, "
                           "after_id) VALUES('") +
               dtu + "', 1715000000123456, NULL, 'retention', 1715000005000000, 1)");
    }
    auto run = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = {"export", "--db", path};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = f.run(args);
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.err.empty());
        return r.out;
    };
    const std::string d = dtu, n = nbiot;

    CHECK(run({}) == "number,cloud_time,received_at,origin,payload\r\n" + d +
                         ",2024-05-06T20:53:20.123456+08:00,2024-05-06T20:53:20.200000+08:00,live,"
                         "41 4C 49 45 4E 54 45 4B 2D 48 52 54 44 54\r\n" +
                         d + ",,2024-05-06T20:53:21.000001+08:00,live,D5 FD B5 E3\r\n" + n +
                         ",2024-05-06T20:53:22.000000+08:00,2024-05-06T20:53:23.000000+08:00,"
                         "backfill,61 2C 22 0A FF 1B 62\r\n" +
                         d +
                         ",2024-05-06T20:53:24.000000+08:00,2024-05-06T20:53:24.500000+08:00,"
                         "live,\r\n" +
                         d +
                         ",2024-05-06T20:53:24.500000+08:00,2024-05-06T20:53:25.000000+08:00,"
                         "backfill,78 C2 85 79\r\n");

    CHECK(run({"--encoding", "utf8", "--number", nbiot}) ==
          "number,cloud_time,received_at,origin,payload\r\n" + n +
              ",2024-05-06T20:53:22.000000+08:00,2024-05-06T20:53:23.000000+08:00,backfill,"
              "\"a,\"\"\n\\xff\x1b"
              "b\"\r\n");

    CHECK(run({"--format", "jsonl", "--encoding", "utf8"}) ==
          "{\"number\":\"" + d +
              "\",\"cloud_time\":\"2024-05-06T20:53:20.123456+08:00\",\"received_at\":"
              "\"2024-05-06T20:53:20.200000+08:00\",\"origin\":\"live\",\"payload\":"
              "\"ALIENTEK-HRTDT\"}\n"
              "{\"number\":\"" +
              d +
              "\",\"cloud_time\":null,\"received_at\":\"2024-05-06T20:53:21.000001+08:00\","
              "\"origin\":\"live\",\"payload\":\"\\\\xd5\\\\xfd\\\\xb5\\\\xe3\"}\n"
              "{\"number\":\"" +
              n +
              "\",\"cloud_time\":\"2024-05-06T20:53:22.000000+08:00\",\"received_at\":"
              "\"2024-05-06T20:53:23.000000+08:00\",\"origin\":\"backfill\",\"payload\":"
              "\"a,\\\"\\n\\\\xff\\u001bb\"}\n"
              "{\"number\":\"" +
              d +
              "\",\"cloud_time\":\"2024-05-06T20:53:24.000000+08:00\",\"received_at\":"
              "\"2024-05-06T20:53:24.500000+08:00\",\"origin\":\"live\",\"payload\":\"\"}\n"
              "{\"number\":\"" +
              d +
              "\",\"cloud_time\":\"2024-05-06T20:53:24.500000+08:00\",\"received_at\":"
              "\"2024-05-06T20:53:25.000000+08:00\",\"origin\":\"backfill\",\"payload\":"
              "\"x\\u0085y\"}\n");

    // --json chooses JSON lines; GBK text.
    const std::string gbk =
        run({"--json", "--encoding", "gbk", "--number", dtu, "--end", "2024-05-06 20:53:24"});
    CHECK(gbk == "{\"number\":\"" + d +
                     "\",\"cloud_time\":\"2024-05-06T20:53:20.123456+08:00\",\"received_at\":"
                     "\"2024-05-06T20:53:20.200000+08:00\",\"origin\":\"live\",\"payload\":"
                     "\"ALIENTEK-HRTDT\"}\n"
                     "{\"number\":\"" +
                     d +
                     "\",\"cloud_time\":null,\"received_at\":\"2024-05-06T20:53:21.000001+08:"
                     "00\",\"origin\":\"live\",\"payload\":\"正点\"}\n");

    // The window: start inclusive, end exclusive, the receive time when the cloud's is
    // unknown; the platform's time or ISO 8601.
    const std::string window =
        run({"--start", "2024-05-06 20:53:21", "--end", "2024-05-06T12:53:24Z"});
    CHECK(window == "number,cloud_time,received_at,origin,payload\r\n" + d +
                        ",,2024-05-06T20:53:21.000001+08:00,live,D5 FD B5 E3\r\n" + n +
                        ",2024-05-06T20:53:22.000000+08:00,2024-05-06T20:53:23.000000+08:00,"
                        "backfill,61 2C 22 0A FF 1B 62\r\n");

    CHECK(run({"--gaps"}) == "number,from,to,reason,recorded_at,after_id\r\n" + d +
                                 ",2024-05-06T20:53:20.123456+08:00,,retention,"
                                 "2024-05-06T20:53:25.000000+08:00,1\r\n");
    CHECK(run({"--gaps", "--format", "jsonl"}) ==
          "{\"number\":\"" + d +
              "\",\"from\":\"2024-05-06T20:53:20.123456+08:00\",\"to\":null,\"reason\":"
              "\"retention\",\"recorded_at\":\"2024-05-06T20:53:25.000000+08:00\",\"after_id\":1}"
              "\n");
    CHECK(run({"--number", "27309143566123801957"}) ==
          "number,cloud_time,received_at,origin,payload\r\n");

    CHECK(f.run({"export", "--db", path, "--start", "yesterday"}).status == 2);
    CHECK(f.run({"export", "--db", path, "--format", "xml"}).status == 2);
}

TEST_CASE("cli record and export: database errors are clear, with a non-zero status",
          "[cli][record]") {
    fixture f;
    temp_dir dir;

    const auto no_dir =
        f.run({"record", "--org", "1", "--number", dtu, "--db", dir.file("missing/dir/x.db")});
    CHECK(no_dir.status == 3);
    CHECK(contains(no_dir.err, "unable to open database file"));
    CHECK(contains(no_dir.err, "missing/dir/x.db"));

    const std::string text = dir.file("notes.txt");
    const std::string notes(4096, 'x');
    std::ofstream(text) << notes;
    for (const char* cmd : {"record", "export"}) {
        INFO(cmd);
        const auto r = std::string(cmd) == "record"
                           ? f.run({"record", "--org", "1", "--number", dtu, "--db", text})
                           : f.run({"export", "--db", text});
        CHECK(r.status == 3);
        CHECK(contains(r.err, "file is not a database"));
        CHECK(contains(r.err, "notes.txt"));
    }
    std::ifstream in(text);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == notes); // untouched

    const auto missing = f.run({"export", "--db", dir.file("none.db")});
    CHECK(missing.status == 3);
    CHECK(contains(missing.err, "unable to open database file"));
    CHECK_FALSE(std::filesystem::exists(dir.file("none.db"))); // export creates nothing

    const std::string other = dir.file("other.db");
    db(other, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE).exec("CREATE TABLE t(x)");
    const auto foreign = f.run({"export", "--db", other});
    CHECK(foreign.status == 3);
    CHECK(contains(foreign.err, "not written by `atomcloud record`"));

    const std::string future = dir.file("future.db");
    {
        db d(future, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        d.exec(documented_schema);
        d.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    }
    const auto newer = f.run({"record", "--org", "1", "--number", dtu, "--db", future});
    CHECK(newer.status == 3);
    CHECK(contains(newer.err, "schema version 99"));

    // One recorder per database.
    const std::string shared = dir.file("shared.db");
    process first({"record", "--org", "1", "--number", dtu, "--db", shared}, f.env);
    f.wait_subscribers(dtu, 1);
    const auto second = f.run({"record", "--org", "1", "--number", dtu, "--db", shared});
    CHECK(second.status == 3);
    CHECK(contains(second.err, "in use by another"));
    first.signal(SIGINT);
    CHECK(first.wait().status == 0);

    // The API's refusal is reported as by the other commands (status 1).
    const auto refused = f.run({"record", "--org", "1", "--number", dtu, "--db", shared},
                               {"ATOMCLOUD_TOKEN=not-the-token"});
    CHECK(refused.status == 1);
    CHECK(contains(refused.err, "API code 300"));
    CHECK_FALSE(contains(refused.err, "not-the-token"));

    // Usage errors: no devices, a bad --since.
    CHECK(f.run({"record", "--org", "1", "--db", shared}).status == 2);
    CHECK(f.run({"record", "--org", "1", "--number", dtu, "--db", shared, "--since", "noon"})
              .status == 2);
}

TEST_CASE("cli record: --group and --all-devices record the listed devices", "[cli][record]") {
    fixture f;
    temp_dir dir;
    const std::string path = dir.file("group.db");
    process rec({"record", "--org", "1", "--group", "45", "--db", path}, f.env);
    f.wait_subscribers(dtu, 1);
    f.wait_subscribers(dtu2, 1);
    rec.signal(SIGINT);
    CHECK(rec.wait().status == 0);
    {
        db d(path);
        const auto devices = d.rows("SELECT number, kind FROM devices ORDER BY number");
        REQUIRE(devices.size() == 2);
        CHECK(devices[0][0] == dtu);
        CHECK(devices[1][0] == dtu2);
    }
    process all({"record", "--org", "1", "--all-devices", "--db", path}, f.env);
    f.wait_subscribers("84021677359012846630", 1);
    all.signal(SIGINT);
    CHECK(all.wait().status == 0);
    db d(path);
    CHECK(d.count("SELECT count(*) FROM devices") == 5);
    CHECK(d.count("SELECT count(*) FROM devices WHERE kind = 'nbiot' AND number = '" +
                  std::string(nbiot) + "'") == 1);
}
