// The commands of the atomcloud tool. Each returns the process exit code:
//   0 success; 1 the API answered with code != 200 (or refused the token/organisation);
//   2 usage error (bad option, malformed device number, bad hex ...);
//   3 network, TLS or protocol failure.
#ifndef ATOMCLOUD_CLI_COMMANDS_HPP
#define ATOMCLOUD_CLI_COMMANDS_HPP

#include "output.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace atomcloud::cli {

enum exit_status : int { exit_ok = 0, exit_api = 1, exit_usage = 2, exit_failure = 3 };

/// Accepted ranges of the duration options, in seconds (smaller than a millisecond would
/// be no time at all; larger would overflow the clocks, or not be meant).
inline constexpr double min_timeout_seconds = 0.001;
inline constexpr double max_timeout_seconds = 86400; // a day
inline constexpr double min_duration_seconds = 0.001;
inline constexpr double max_duration_seconds = 366.0 * 86400; // a year

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
};

int run_orgs(const global_options& g);
int run_groups(const global_options& g, std::int64_t org);
int run_devices(const global_options& g, std::int64_t org, std::int64_t group);
int run_state(const global_options& g, std::int64_t org, std::int64_t device_id);
int run_history(const global_options& g, const history_args& a);
int run_watch(const global_options& g, const watch_args& a);
int run_send(const global_options& g, const send_args& a);

} // namespace atomcloud::cli

#endif
