// The commands of the atomcloud tool. Each returns the process exit code:
//   0 success; 1 the API answered with code != 200 (or refused the token/organisation);
//   2 usage error (bad option, malformed device number, bad hex ...);
//   3 network, TLS or protocol failure, or a database failure (record, export).
#ifndef ATOMCLOUD_CLI_COMMANDS_HPP
#define ATOMCLOUD_CLI_COMMANDS_HPP

#include "output.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::cli {

enum exit_status : int { exit_ok = 0, exit_api = 1, exit_usage = 2, exit_failure = 3 };

/// Accepted ranges of the duration options, in seconds (smaller than a millisecond would
/// be no time at all; larger would overflow the clocks, or not be meant).
inline constexpr double min_timeout_seconds = 0.001;
inline constexpr double max_timeout_seconds = 86400; // a day
inline constexpr double min_duration_seconds = 0.001;
inline constexpr double max_duration_seconds = 366.0 * 86400; // a year
inline constexpr double min_stats_seconds = 0.1;

/// Seconds within the ranges above as milliseconds (rounded).
std::chrono::milliseconds to_milliseconds(double seconds);

/// A bad argument: printed, exit status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct global_options {
    std::string base_url = "https://cloud.alientek.com";
    std::string token;
    std::string ca_file;
    bool insecure = false;
    std::optional<std::string> proxy; // --proxy; unset: HTTPS_PROXY / https_proxy
    bool json = false;
    bool verbose = false;
    double timeout_seconds = 30;
};

struct history_args {
    std::int64_t org = 0;
    std::string number;
    std::optional<std::uint32_t> page;
    std::optional<std::uint32_t> limit;
    std::string start;
    std::string end;
    bool all = false;
    bool no_heartbeat = false;
    encoding enc = encoding::hex;
};

struct watch_args {
    std::int64_t org = 0;
    std::vector<std::string> numbers;
    std::vector<std::string> nbiot_ids;
    std::optional<std::size_t> count;
    std::optional<double> duration_seconds;
    std::optional<double> stats_seconds; ///< --stats: a metrics line on stderr this often
    bool no_heartbeat = false;
    encoding enc = encoding::hex;
};

struct send_args {
    std::int64_t org = 0;
    std::string number;
    std::string nbiot_id;
    std::optional<std::string> text;
    std::optional<std::string> hex;
    encoding enc = encoding::utf8;
    bool wait_reply = false;           ///< --wait-reply: print the device's answer
    double reply_timeout_seconds = 10; ///< --reply-timeout
};

struct devices_watch_args {
    std::int64_t org = 0;
    std::vector<std::int64_t> groups;
    std::optional<double> duration_seconds;
};

struct record_args {
    std::int64_t org = 0;
    std::vector<std::string> numbers;
    std::vector<std::string> nbiot_ids;
    std::vector<std::int64_t> groups;
    bool all_devices = false;
    std::string db;
    bool no_heartbeat = false;
    std::string since;
};

enum class export_format { csv, jsonl };

struct export_args {
    std::string db;
    std::vector<std::string> numbers;
    std::string start;
    std::string end;
    std::optional<export_format> format; ///< unset: jsonl with --json, csv otherwise
    encoding enc = encoding::hex;
    bool gaps = false;
};

int run_orgs(const global_options& g);
int run_groups(const global_options& g, std::int64_t org);
int run_devices(const global_options& g, std::int64_t org, std::int64_t group);
int run_state(const global_options& g, std::int64_t org, std::int64_t device_id);
int run_history(const global_options& g, const history_args& a);
int run_watch(const global_options& g, const watch_args& a);
int run_send(const global_options& g, const send_args& a);
int run_devices_watch(const global_options& g, const devices_watch_args& a);
int run_record(const global_options& g, const record_args& a);
int run_export(const global_options& g, const export_args& a);

// Shared by the commands (commands.cpp).

/// The client configuration of the global options (usage_error when unusable).
config make_config(const global_options& g);
/// Prints the error and returns the exit status for it.
int report(const error_code& ec, const diagnostics& diag, std::string_view doing = {});
device_number parse_number(const std::string& text);
nbiot_id parse_nbiot(const std::string& text);
/// A time option: "YYYY-MM-DD hh:mm:ss" in the platform's time zone (`utc_offset`), or
/// ISO 8601 ("2024-05-06T14:00:00.5+08:00"; without an offset, in `utc_offset`).
packet_time parse_time_option(const std::string& text, const char* option,
                              std::chrono::minutes utc_offset);

} // namespace atomcloud::cli

#endif
