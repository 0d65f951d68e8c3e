// atomcloud: ALIENTEK Atom Cloud from the command line.
//
//   atomcloud orgs
//   atomcloud groups  --org ID
//   atomcloud devices --org ID --group ID [--watch [--duration SECONDS]]
//   atomcloud state   --org ID --device-id ID
//   atomcloud history --org ID --number NUMBER [--page N] [--limit N] [--start T] [--end T]
//                     [--all] [--no-heartbeat] [--encoding hex|utf8|gbk]
//   atomcloud watch   --org ID --number NUMBER... [--nbiot-id ID...] [--count N]
//                     [--duration SECONDS] [--stats SECONDS] [--encoding hex|utf8|gbk]
//   atomcloud send    --org ID (--number NUMBER | --nbiot-id ID) (--text TEXT | --hex HEX)
//                     [--encoding utf8|gbk] [--wait-reply [--reply-timeout SECONDS]]
//   atomcloud record  --org ID (--number N... | --nbiot-id ID... | --group ID... |
//                     --all-devices) --db FILE [--no-heartbeat] [--since TIME]
//   atomcloud export  --db FILE [--number N...] [--start TIME] [--end TIME]
//                     [--format csv|jsonl] [--encoding hex|utf8|gbk] [--gaps]
#include "commands.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <system_error>

namespace {

using namespace atomcloud::cli;

// Options are parsed here, with std::from_chars: decimal only (no sign for counts, no
// "0x" or leading "+"), the whole text, and a value out of range is an error, never a
// wrapped or clamped number. Errors are CLI11's, so they print and exit 2 like the others.

template <class T>
T parse_integer(const std::string& text, const std::string& option, T min, T max) {
    T value{};
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(text.data(), last, value);
    if (text.empty() || ec != std::errc() || end != last || value < min || value > max)
        throw CLI::ValidationError(option, "expected an integer from " + std::to_string(min) +
                                               " to " + std::to_string(max) + ", got '" +
                                               terminal_safe(text) + "'");
    return value;
}

double parse_seconds(const std::string& text, const std::string& option, double min, double max,
                     const char* range) {
    double value = 0;
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(text.data(), last, value);
    if (text.empty() || ec != std::errc() || end != last || !std::isfinite(value) || value < min ||
        value > max)
        throw CLI::ValidationError(option, std::string("expected a number of seconds from ") +
                                               range + ", got '" + terminal_safe(text) + "'");
    return value;
}

template <class T>
CLI::Option* add_integer(CLI::App* cmd, const std::string& name, T& into, const std::string& help,
                         T min = 0, T max = std::numeric_limits<T>::max()) {
    return cmd->add_option_function<std::string>(
        name,
        [&into, name, min, max](const std::string& text) {
            into = parse_integer<T>(text, name, min, max);
        },
        help);
}

template <class T>
CLI::Option* add_integer(CLI::App* cmd, const std::string& name, std::optional<T>& into,
                         const std::string& help, T min = 0,
                         T max = std::numeric_limits<T>::max()) {
    return cmd->add_option_function<std::string>(
        name,
        [&into, name, min, max](const std::string& text) {
            into = parse_integer<T>(text, name, min, max);
        },
        help);
}

const std::map<std::string, encoding> all_encodings = {
    {"hex", encoding::hex}, {"utf8", encoding::utf8}, {"gbk", encoding::gbk}};
const std::map<std::string, export_format> export_formats = {{"csv", export_format::csv},
                                                             {"jsonl", export_format::jsonl}};
const std::map<std::string, encoding> text_encodings = {{"utf8", encoding::utf8},
                                                        {"gbk", encoding::gbk}};

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"atomcloud " ATOMCLOUD_VERSION_STRING
                 " - ALIENTEK Atom Cloud (原子云) from the command line.\n"
                 "Exit status: 0 success, 1 the API answered with an error code, 2 usage "
                 "error, 3 network, TLS or protocol failure.",
                 "atomcloud"};
    app.set_version_flag("--version", std::string("atomcloud ") + ATOMCLOUD_VERSION_STRING);
    app.require_subcommand(1);
    app.fallthrough();

    global_options g;
    app.add_option("--base-url", g.base_url, "Platform URL https://host[:port][/prefix]")
        ->envname("ATOMCLOUD_BASE_URL")
        ->capture_default_str();
    app.add_option("--token", g.token, "API token (never printed)")->envname("ATOMCLOUD_TOKEN");
    app.add_option("--ca-file", g.ca_file, "PEM file of the CA(s) to trust instead of the system's")
        ->envname("ATOMCLOUD_CA_FILE");
    app.add_flag("--insecure", g.insecure,
                 "Do not verify the server's certificate (dangerous; prints a warning)");
    app.add_option("--proxy", g.proxy,
                   "HTTP proxy http://[user:password@]host:port (default: $HTTPS_PROXY; '' for "
                   "none; NO_PROXY is honoured)");
    app.add_flag("--json", g.json, "Print JSON instead of tables");
    app.add_option_function<std::string>(
           "--timeout",
           [&g](const std::string& text) {
               g.timeout_seconds = parse_seconds(text, "--timeout", min_timeout_seconds,
                                                 max_timeout_seconds, "0.001 to 86400");
           },
           "Limit for each network step, in seconds (0.001 to 86400)")
        ->default_str("30");
    app.add_flag("-v,--verbose", g.verbose, "Debug log on stderr (the token is never shown)");

    std::int64_t org = 0;
    auto add_org = [&](CLI::App* cmd) {
        add_integer(cmd, "--org", org, "Organisation id (from `atomcloud orgs`)")->required();
    };

    // history and watch: which payloads to show, and how.
    auto add_payload_options = [](CLI::App* cmd, bool& no_heartbeat, encoding& enc) {
        cmd->add_flag("--no-heartbeat", no_heartbeat, "Leave out ALIENTEK-HRTDT heartbeats");
        cmd->add_option("--encoding", enc, "Show payloads as hex, utf8 or gbk text")
            ->transform(CLI::CheckedTransformer(all_encodings, CLI::ignore_case));
    };

    auto* orgs = app.add_subcommand("orgs", "List the account's organisations");

    auto* groups = app.add_subcommand("groups", "List the device groups of an organisation");
    add_org(groups);

    std::int64_t group = 0;
    auto* devices = app.add_subcommand("devices", "List the devices of a group");
    add_org(devices);
    add_integer(devices, "--group", group, "Group id (from `atomcloud groups`)")->required();
    devices_watch_args dw;
    bool devices_watch = false;
    devices->add_flag("--watch", devices_watch,
                      "Keep the list current: online state live (redrawn on a terminal, "
                      "a line per change otherwise)");
    devices->add_option_function<std::string>(
        "--duration",
        [&dw](const std::string& text) {
            dw.duration_seconds = parse_seconds(text, "--duration", min_duration_seconds,
                                                max_duration_seconds, "0.001 to 31622400");
        },
        "With --watch: stop after this many seconds");

    std::int64_t device_id = 0;
    auto* state = app.add_subcommand("state", "Show a device's connection state");
    add_org(state);
    add_integer(state, "--device-id", device_id, "Device id (the ID column of `atomcloud devices`)")
        ->required();

    history_args h;
    auto* history = app.add_subcommand("history", "Show a device's messages (last 6 hours)");
    add_org(history);
    history->add_option("--number", h.number, "Device number")->required();
    add_integer<std::uint32_t>(history, "--page", h.page, "Page number, from 1", 1);
    add_integer<std::uint32_t>(history, "--limit", h.limit, "Messages per page (1-1000)", 1, 1000);
    history->add_option("--start", h.start, "Oldest time, \"YYYY-MM-DD hh:mm:ss\" (UTC+8)");
    history->add_option("--end", h.end, "Newest time, \"YYYY-MM-DD hh:mm:ss\" (UTC+8)");
    history->add_flag("--all", h.all, "Walk every page (each message once, newest first)");
    add_payload_options(history, h.no_heartbeat, h.enc);

    watch_args w;
    auto* watch = app.add_subcommand("watch", "Print devices' events and messages as they arrive");
    add_org(watch);
    watch->add_option("--number", w.numbers, "Device number to watch (repeatable)");
    watch->add_option("--nbiot-id", w.nbiot_ids, "NB-IoT device id to watch (repeatable)");
    add_integer<std::size_t>(watch, "--count", w.count, "Stop after this many device events", 1);
    watch->add_option_function<std::string>(
        "--duration",
        [&w](const std::string& text) {
            w.duration_seconds = parse_seconds(text, "--duration", min_duration_seconds,
                                               max_duration_seconds, "0.001 to 31622400");
        },
        "Stop after this many seconds (0.001 to 31622400, a year)");
    watch->add_option_function<std::string>(
        "--stats",
        [&w](const std::string& text) {
            w.stats_seconds = parse_seconds(text, "--stats", min_stats_seconds, max_timeout_seconds,
                                            "0.1 to 86400");
        },
        "Print a metrics line to stderr this often, in seconds (0.1 to 86400)");
    add_payload_options(watch, w.no_heartbeat, w.enc);

    send_args s;
    std::string text, hex;
    auto* send = app.add_subcommand("send", "Send data to a device");
    add_org(send);
    auto* send_number = send->add_option("--number", s.number, "DTU / WIFI device number");
    auto* send_nbiot = send->add_option("--nbiot-id", s.nbiot_id, "NB-IoT device id");
    send_number->excludes(send_nbiot);
    auto* send_text = send->add_option("--text", text, "Text to send");
    auto* send_hex = send->add_option("--hex", hex, "Bytes to send, as hex (\"41 4C ...\")");
    send_text->excludes(send_hex);
    send->add_option("--encoding", s.enc, "Encoding of --text: utf8 (default) or gbk")
        ->transform(CLI::CheckedTransformer(text_encodings, CLI::ignore_case));
    send->add_flag("--wait-reply", s.wait_reply,
                   "Wait for the device's answer and print it (in the --encoding of --text)");
    send->add_option_function<std::string>(
        "--reply-timeout",
        [&s](const std::string& seconds) {
            s.reply_timeout_seconds = parse_seconds(seconds, "--reply-timeout", min_timeout_seconds,
                                                    max_timeout_seconds, "0.001 to 86400");
        },
        "With --wait-reply: seconds to wait for the answer (default 10)");

    record_args r;
    auto* record = app.add_subcommand(
        "record", "Store devices' messages in an SQLite database, gapless and resumable");
    add_org(record);
    record->add_option("--number", r.numbers, "Device number to record (repeatable)");
    record->add_option("--nbiot-id,--nbiot", r.nbiot_ids,
                       "NB-IoT device id to record (repeatable)");
    record->add_option_function<std::vector<std::string>>(
        "--group",
        [&r](const std::vector<std::string>& texts) {
            for (const auto& t : texts)
                r.groups.push_back(parse_integer<std::int64_t>(
                    t, "--group", 0, std::numeric_limits<std::int64_t>::max()));
        },
        "Record every device of this group (repeatable; from `atomcloud groups`)");
    record->add_flag("--all-devices", r.all_devices, "Record every device of the organisation");
    record->add_option("--db", r.db, "SQLite database file (created if missing)")->required();
    record->add_flag("--no-heartbeat", r.no_heartbeat, "Leave out ALIENTEK-HRTDT heartbeats");
    record->add_option("--since", r.since,
                       "Devices without a stored cursor start at this cloud time: \"YYYY-MM-DD "
                       "hh:mm:ss\" (UTC+8) or ISO 8601 (default: now)");

    export_args x;
    auto* export_cmd =
        app.add_subcommand("export", "Print what `record` stored, as CSV or JSON lines");
    export_cmd->add_option("--db", x.db, "SQLite database file `record` wrote")->required();
    export_cmd->add_option("--number", x.numbers,
                           "Only this device (number or NB-IoT id; repeatable)");
    export_cmd->add_option("--start", x.start,
                           "From this cloud time on (inclusive): \"YYYY-MM-DD hh:mm:ss\" "
                           "(UTC+8) or ISO 8601");
    export_cmd->add_option("--end", x.end, "Before this cloud time (exclusive)");
    export_format format = export_format::csv;
    auto* export_format_opt =
        export_cmd->add_option("--format", format, "csv (default; jsonl with --json) or jsonl");
    export_format_opt->transform(CLI::CheckedTransformer(export_formats, CLI::ignore_case));
    export_cmd->add_option("--encoding", x.enc, "Payloads as hex (default), utf8 or gbk text")
        ->transform(CLI::CheckedTransformer(all_encodings, CLI::ignore_case));
    export_cmd->add_flag("--gaps", x.gaps, "Export the reported gaps instead of the messages");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? exit_ok : exit_usage;
    }

    try {
        if (orgs->parsed())
            return run_orgs(g);
        if (groups->parsed())
            return run_groups(g, org);
        if (devices->parsed() && devices_watch) {
            dw.org = org;
            dw.groups = {group};
            return run_devices_watch(g, dw);
        }
        if (devices->parsed())
            return run_devices(g, org, group);
        if (state->parsed())
            return run_state(g, org, device_id);
        if (history->parsed()) {
            h.org = org;
            return run_history(g, h);
        }
        if (watch->parsed()) {
            w.org = org;
            return run_watch(g, w);
        }
        if (send->parsed()) {
            s.org = org;
            if (send_text->count())
                s.text = text;
            if (send_hex->count())
                s.hex = hex;
            return run_send(g, s);
        }
        if (record->parsed()) {
            r.org = org;
            return run_record(g, r);
        }
        if (export_cmd->parsed()) {
            if (export_format_opt->count())
                x.format = format;
            return run_export(g, x);
        }
    } catch (const usage_error& e) {
        std::cerr << "atomcloud: error: " << terminal_safe(e.what())
                  << "\nRun with --help for usage." << std::endl;
        return exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "atomcloud: error: " << terminal_safe(e.what()) << std::endl;
        return exit_failure;
    }
    return exit_usage;
}
