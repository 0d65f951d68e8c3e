#include "commands.hpp"
#include "stop_triggers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <functional>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

namespace atomcloud::cli {

namespace asio = boost::asio;

std::chrono::milliseconds to_milliseconds(double seconds) {
    return std::chrono::milliseconds(std::llround(seconds * 1000));
}

namespace {

std::optional<std::chrono::milliseconds> duration_of(std::optional<double> seconds) {
    if (!seconds)
        return std::nullopt;
    return to_milliseconds(*seconds);
}

} // namespace

// ----------------------------------------------------------------------------------------
// Configuration and errors

config make_config(const global_options& g) {
    if (g.token.empty())
        throw usage_error("no API token: pass --token or set ATOMCLOUD_TOKEN");
    // main() checked the range: 1 ms to a day.
    if (!(g.timeout_seconds >= min_timeout_seconds && g.timeout_seconds <= max_timeout_seconds))
        throw usage_error("--timeout must be a number of seconds from 0.001 to 86400");
    config cfg;
    cfg.base_url = g.base_url;
    cfg.token = g.token;
    cfg.tls.ca_file = g.ca_file;
    cfg.tls.verify = !g.insecure;
    const config env = config::from_env();
    cfg.proxy = g.proxy.value_or(env.proxy);
    cfg.no_proxy = env.no_proxy;
    const auto limit = to_milliseconds(g.timeout_seconds);
    cfg.timeouts.resolve = limit;
    cfg.timeouts.connect = limit;
    cfg.timeouts.tls_handshake = limit;
    cfg.timeouts.websocket_handshake = limit;
    cfg.timeouts.request = limit;
    // Warnings (e.g. TLS verification off, failed connection attempts) always reach
    // stderr; -v adds everything else. Errors are reported once, by the command itself.
    // The library never logs the token. Log lines can carry text from the server: they
    // are made terminal-safe like everything else.
    cfg.log = logger::to_stderr(g.verbose ? log_level::debug : log_level::warning);
    cfg.log.sink = [print = std::move(cfg.log.sink), all = g.verbose](log_level l,
                                                                      std::string_view m) {
        if (all || l == log_level::warning)
            print(l, terminal_safe(m));
    };
    // The library's own checks, before any I/O: their text names the option and never
    // holds the token nor the proxy's credentials.
    std::string what;
    if (const error_code ec = validate_config(cfg, what))
        throw usage_error(ec == client_errc::invalid_base_url ? "invalid --base-url: " + what
                                                              : what);
    return cfg;
}

namespace {

bool is_usage_error(const error_code& ec) {
    return ec == client_errc::invalid_device_number || ec == client_errc::invalid_nbiot_id ||
           ec == client_errc::invalid_hex || ec == client_errc::odd_hex_digits ||
           ec == client_errc::invalid_encoding || ec == client_errc::invalid_base_url ||
           ec == client_errc::invalid_config || ec == client_errc::message_too_large;
}

} // namespace

/// Prints the error and returns the exit status for it.
int report(const error_code& ec, const diagnostics& diag, std::string_view doing) {
    std::string line = "atomcloud: error: ";
    if (!doing.empty()) {
        line += doing;
        line += ": ";
    }
    int status = exit_failure;
    if (ec.category() == api_category()) {
        status = exit_api;
        line += ec.message();
    } else if (ec == client_errc::handshake_rejected && diag.api_code() != 0 &&
               diag.api_code() != 200) {
        // The WebSocket upgrade was refused with an API envelope (bad token, unknown org).
        status = exit_api;
        const error_code api = make_api_error(diag.api_code());
        line += api.message() + "; " + ec.message();
    } else {
        if (is_usage_error(ec))
            status = exit_usage;
        line += ec.message();
    }
    const std::string details = diag.to_string();
    if (!details.empty())
        line += " [" + details + "]";
    std::cerr << terminal_safe(line) << std::endl;
    return status;
}

device_number parse_number(const std::string& text) {
    auto n = device_number::parse(text);
    if (!n)
        throw usage_error("malformed device number '" + text +
                          "': it must be exactly 20 printable ASCII characters");
    return *n;
}

nbiot_id parse_nbiot(const std::string& text) {
    auto id = nbiot_id::parse(text);
    if (!id)
        throw usage_error("malformed NB-IoT device id '" + text +
                          "': it must be 1 to 37 bytes without NUL");
    return *id;
}

packet_time parse_time_option(const std::string& text, const char* option,
                              std::chrono::minutes utc_offset) {
    const auto t = atomcloud::parse_time(text, utc_offset);
    if (!t)
        throw usage_error(std::string("invalid ") + option + " '" + text +
                          "': expected \"YYYY-MM-DD hh:mm:ss\" (platform time, UTC+8) or ISO "
                          "8601 such as 2024-05-06T14:00:00+08:00");
    return t->time;
}

namespace {

// History is kept for DTU / WIFI numbers (20 characters) and NB-IoT ids (up to 37): the
// number must be printable ASCII without spaces and fit one of the two.
// A device number (20 characters) or an NB-IoT id, as the history API takes it.
history_device history_device_of(const std::string& text) {
    bool printable = !text.empty() && text.size() <= nbiot_id::wire_size;
    for (char c : text)
        printable = printable && c > 0x20 && c < 0x7f;
    if (!printable)
        throw usage_error("malformed device number '" + text +
                          "': expected a 20-character device number or an NB-IoT id");
    if (auto number = device_number::parse(text))
        return *number;
    return nbiot_id(text);
}

std::chrono::system_clock::time_point parse_time(const std::string& text, const char* option,
                                                 std::chrono::minutes utc_offset) {
    // The API's own format, "yyyy-MM-dd hh:mm:ss", in the platform's time zone.
    const auto t = text.size() == 19 && text[10] == ' ' ? atomcloud::parse_time(text, utc_offset)
                                                        : std::nullopt;
    if (!t)
        throw usage_error(std::string("invalid ") + option + " '" + text +
                          "': expected \"YYYY-MM-DD hh:mm:ss\" (platform time, UTC+8)");
    return std::chrono::time_point_cast<std::chrono::system_clock::duration>(t->time);
}

void print_json(const nlohmann::ordered_json& j) {
    std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << std::endl;
}

std::string local_clock_time() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::ostringstream os;
    os << std::put_time(&tm, "%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << ms.count();
    return os.str();
}

// Runs one synchronous REST call; on failure reports it and returns the exit status.
template <class Fn>
int with_rest_client(const global_options& g, Fn&& fn) {
    const config cfg = make_config(g);
    asio::io_context io;
    rest_client api(io, cfg);
    error_code ec;
    diagnostics diag;
    fn(api, ec, diag);
    if (ec)
        return report(ec, diag);
    return exit_ok;
}

} // namespace

// ----------------------------------------------------------------------------------------
// orgs, groups, devices, state

int run_orgs(const global_options& g) {
    return with_rest_client(g, [&](rest_client& api, error_code& ec, diagnostics& diag) {
        const auto orgs = api.list_orgs(ec, diag);
        if (ec)
            return;
        if (g.json) {
            nlohmann::ordered_json out = nlohmann::ordered_json::array();
            for (const auto& o : orgs)
                out.push_back(to_json(o));
            return print_json(out);
        }
        table t({"ID", "NAME", "DEVICES", "LIMIT", "CREATED"});
        for (const auto& o : orgs)
            t.add({std::to_string(o.id), o.name, std::to_string(o.device_counter),
                   std::to_string(o.device_limit), o.created_at});
        t.print(std::cout);
    });
}

int run_groups(const global_options& g, std::int64_t org) {
    return with_rest_client(g, [&](rest_client& api, error_code& ec, diagnostics& diag) {
        const auto groups = api.list_groups(org, ec, diag);
        if (ec)
            return;
        if (g.json) {
            nlohmann::ordered_json out = nlohmann::ordered_json::array();
            for (const auto& gr : groups)
                out.push_back(to_json(gr));
            return print_json(out);
        }
        table t({"ID", "NAME", "CREATED"});
        for (const auto& gr : groups)
            t.add({std::to_string(gr.id), gr.name, gr.created_at});
        t.print(std::cout);
    });
}

int run_devices(const global_options& g, std::int64_t org, std::int64_t group) {
    return with_rest_client(g, [&](rest_client& api, error_code& ec, diagnostics& diag) {
        const auto devices = api.list_devices(org, group, ec, diag);
        if (ec)
            return;
        if (g.json) {
            nlohmann::ordered_json out = nlohmann::ordered_json::array();
            for (const auto& d : devices)
                out.push_back(to_json(d));
            return print_json(out);
        }
        table t({"ID", "SHOW_ID", "TYPE", "NUMBER", "NAME"});
        for (const auto& d : devices) {
            const auto type = device_type_json(d);
            t.add({std::to_string(d.id), d.show_id,
                   type.is_null() ? "-" : type.get<std::string>() + " " + to_string(d.type),
                   d.number, d.name});
        }
        t.print(std::cout);
    });
}

int run_state(const global_options& g, std::int64_t org, std::int64_t device_id) {
    return with_rest_client(g, [&](rest_client& api, error_code& ec, diagnostics& diag) {
        const auto state = api.device_state(org, device_id, ec, diag);
        if (ec)
            return;
        if (g.json)
            return print_json(valid_utf8(state.raw));
        std::cout << terminal_safe(state.raw) << '\n';
    });
}

// ----------------------------------------------------------------------------------------
// history

namespace {

// history --all: every batch is printed as it arrives and then forgotten, so memory stays
// bounded by one page whatever the server reports. The JSON form is the one a single page
// has (an object with "items" and the page counters), written incrementally: the items
// first, the counters once they are known. If the walk fails half-way, the JSON is left
// unterminated (so that no parser takes it for the whole history) and the error goes to
// stderr with a non-zero exit status.
int history_all(const global_options& g, const history_args& a, rest_client& api,
                const history_device& device,
                std::optional<std::chrono::system_clock::time_point> start,
                std::optional<std::chrono::system_clock::time_point> end) {
    history_walk_options opts;
    opts.start = start;
    opts.end = end;
    opts.skip_heartbeats = a.no_heartbeat;
    if (a.limit)
        opts.page_size = *a.limit;
    history_walker walk(api, a.org, device, opts);
    table t({"TIME", "LENGTH", a.enc == encoding::hex ? "HEX" : "TEXT"});
    std::int64_t n = 0;
    error_code ec;
    diagnostics diag;
    if (g.json)
        std::cout << "{\n  \"items\": [";
    while (!walk.done()) {
        const auto batch = walk.next_batch(ec, diag);
        if (ec) {
            std::cout << std::flush;
            return report(ec, diag, "history");
        }
        for (const auto& p : batch) {
            if (g.json) {
                std::cout << (n == 0 ? "\n    " : ",\n    ")
                          << to_json(p, a.enc).dump(
                                 -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
            } else {
                t.add(
                    {p.raw_time, std::to_string(p.payload.size()), payload_text(p.payload, a.enc)});
            }
            ++n;
        }
        if (g.json)
            std::cout << std::flush;
        else
            t.print_rows(std::cout);
    }
    if (g.json) {
        std::cout << (n == 0 ? "],\n" : "\n  ],\n") << "  \"current_page\": 1,\n"
                  << "  \"total_page\": " << (n > 0 ? 1 : 0) << ",\n"
                  << "  \"total_item\": " << n << ",\n"
                  << "  \"page_limit\": " << n << "\n}" << std::endl;
        return exit_ok;
    }
    t.print_rows(std::cout);
    std::cout << n << " packets" << std::endl;
    return exit_ok;
}

} // namespace

int run_history(const global_options& g, const history_args& a) {
    const history_device device = history_device_of(a.number);
    const config cfg = make_config(g);
    std::optional<std::chrono::system_clock::time_point> start, end;
    if (!a.start.empty())
        start = parse_time(a.start, "--start", cfg.server_utc_offset);
    if (!a.end.empty())
        end = parse_time(a.end, "--end", cfg.server_utc_offset);
    if (start && end && *start > *end)
        throw usage_error("--start is after --end");
    if (a.all && a.page)
        throw usage_error("--all walks every page: it cannot be combined with --page");
    if (a.limit && (*a.limit == 0 || *a.limit > 1000))
        throw usage_error("--limit must be between 1 and 1000");
    if (a.page && *a.page == 0)
        throw usage_error("--page starts at 1");

    asio::io_context io;
    rest_client api(io, cfg);
    error_code ec;
    diagnostics diag;

    if (a.all)
        return history_all(g, a, api, device, start, end);

    packet_query q;
    q.page = a.page;
    q.limit = a.limit;
    q.start = start;
    q.end = end;
    packet_page page = api.packets(a.org, device, q, ec, diag);
    if (ec)
        return report(ec, diag, "history");
    if (a.no_heartbeat)
        std::erase_if(page.items, [](const packet& p) { return is_heartbeat(p.payload); });

    if (g.json) {
        nlohmann::ordered_json items = nlohmann::ordered_json::array();
        for (const auto& p : page.items)
            items.push_back(to_json(p, a.enc));
        print_json({{"current_page", page.current_page},
                    {"total_page", page.total_page},
                    {"total_item", page.total_item},
                    {"page_limit", page.page_limit},
                    {"items", std::move(items)}});
        return exit_ok;
    }
    table t({"TIME", "LENGTH", a.enc == encoding::hex ? "HEX" : "TEXT"});
    for (const auto& p : page.items)
        t.add({p.raw_time, std::to_string(p.payload.size()), payload_text(p.payload, a.enc)});
    t.print(std::cout);
    std::cout << "page " << page.current_page << " of " << page.total_page << ", "
              << page.total_item << " packets in all\n";
    return exit_ok;
}

// ----------------------------------------------------------------------------------------
// watch

namespace {

struct watch_state {
    const global_options& g;
    const watch_args& a;
    std::set<nbiot_id> nbiot_filter;
    std::size_t device_events = 0;
    std::size_t links = 0;
    bool stopping = false;
};

void print_event_line(const watch_state& w, const char* name, std::string_view device,
                      const bytes_view* payload) {
    if (w.g.json) {
        nlohmann::ordered_json line = {{"event", name}};
        if (!device.empty())
            line["device"] = valid_utf8(device);
        if (payload) {
            line["hex"] = to_hex_packet(*payload);
            if (w.a.enc != encoding::hex)
                line["text"] = payload_text(*payload, w.a.enc);
        }
        std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                  << std::endl;
        return;
    }
    std::string text = local_clock_time() + "  " + name;
    text.append(text.size() < 36 ? 36 - text.size() : 1, ' ');
    text += terminal_safe(device);
    if (payload) {
        text += "  ";
        text += terminal_safe(payload_text(*payload, w.a.enc));
    }
    std::cout << text << std::endl;
}

// Prints one event; returns true when the wanted number of device events was reached.
bool handle_event(watch_state& w, const event& ev) {
    bool device_event = false;
    if (const auto* c = std::get_if<device_connected>(&ev)) {
        print_event_line(w, "device_connected", c->device.view(), nullptr);
        device_event = true;
    } else if (const auto* d = std::get_if<device_disconnected>(&ev)) {
        print_event_line(w, "device_disconnected", d->device.view(), nullptr);
        device_event = true;
    } else if (const auto* m = std::get_if<device_message>(&ev)) {
        if (w.a.no_heartbeat && is_heartbeat(m->payload))
            return false;
        print_event_line(w, "device_message", m->device.view(), &m->payload);
        device_event = true;
    } else if (const auto* nb = std::get_if<nbiot_message>(&ev)) {
        // Every session of the organisation receives NB-IoT data: show the wanted ones.
        if (!w.nbiot_filter.count(nb->device))
            return false;
        print_event_line(w, "nbiot_message", nb->device.view(), &nb->payload);
        device_event = true;
    } else if (std::holds_alternative<session_connected>(ev)) {
        ++w.links;
        if (w.links == 1)
            std::cerr << "atomcloud: connected; watching "
                      << w.a.numbers.size() + w.a.nbiot_ids.size() << " device(s)" << std::endl;
        else
            std::cerr << "atomcloud: reconnected; messages sent while disconnected were missed "
                         "(see `atomcloud history`)"
                      << std::endl;
        if (w.g.json)
            print_event_line(w, "session_connected", {}, nullptr);
    } else if (const auto* down = std::get_if<session_disconnected>(&ev)) {
        if (!w.stopping && down->reason != client_errc::session_stopped)
            std::cerr << "atomcloud: connection lost (" << terminal_safe(down->reason.message())
                      << "); reconnecting" << std::endl;
        if (w.g.json)
            print_event_line(w, "session_disconnected", {}, nullptr);
    } else if (const auto* pe = std::get_if<protocol_error>(&ev)) {
        std::cerr << "atomcloud: warning: ignored a malformed message from the server ("
                  << terminal_safe(pe->ec.message()) << ")" << std::endl;
    }
    if (device_event) {
        ++w.device_events;
        if (w.a.count && w.device_events >= *w.a.count)
            return true;
    }
    return false;
}

// One --stats line: what arrived since the previous one, and the link's health.
std::string stats_line(const session_metrics& m, const session_metrics& prev) {
    const double secs = std::chrono::duration<double>(m.taken - prev.taken).count();
    const double msgs = static_cast<double>(m.messages_received - prev.messages_received);
    const double kbytes = static_cast<double>(m.bytes_received - prev.bytes_received) / 1024.0;
    std::ostringstream os;
    os << std::fixed << std::setprecision(1) << "atomcloud: stats: received " << m.messages_received
       << " msgs " << m.bytes_received << " bytes (" << (secs > 0 ? msgs / secs : 0.0) << " msg/s, "
       << (secs > 0 ? kbytes / secs : 0.0) << " KiB/s); "
       << (m.connected ? "connected" : "disconnected") << ", reconnects " << m.reconnects
       << ", pending " << m.pending_events << ", dropped " << m.dropped_unsubscribed
       << ", last failure: ";
    if (m.last_failure) {
        const std::time_t t = std::chrono::system_clock::to_time_t(m.last_failure.time);
        std::tm tm{};
        ::localtime_r(&t, &tm);
        os << terminal_safe(m.last_failure.text.empty() ? m.last_failure.ec.message()
                                                        : m.last_failure.text)
           << " at " << std::put_time(&tm, "%H:%M:%S");
    } else {
        os << "none";
    }
    return os.str();
}

} // namespace

int run_watch(const global_options& g, const watch_args& a) {
    if (a.numbers.empty() && a.nbiot_ids.empty())
        throw usage_error("watch needs at least one --number or --nbiot-id");
    if (a.count && *a.count == 0)
        throw usage_error("--count must be at least 1");
    if (a.duration_seconds && !(*a.duration_seconds >= min_duration_seconds &&
                                *a.duration_seconds <= max_duration_seconds))
        throw usage_error("--duration must be a number of seconds from 0.001 to 31622400");
    if (a.stats_seconds &&
        !(*a.stats_seconds >= min_stats_seconds && *a.stats_seconds <= max_timeout_seconds))
        throw usage_error("--stats must be a number of seconds from 0.1 to 86400");
    std::vector<device_number> numbers;
    for (const auto& n : a.numbers)
        numbers.push_back(parse_number(n));
    watch_state w{g, a, {}, 0, 0, false};
    for (const auto& id : a.nbiot_ids)
        w.nbiot_filter.insert(parse_nbiot(id));
    const config cfg = make_config(g);

    asio::io_context io;
    session s(io.get_executor(), cfg, a.org);
    error_code run_ec;
    diagnostics run_diag;

    auto stop = [&] {
        w.stopping = true;
        s.stop();
    };
    // A signal stops the session (a close handshake of at most session.close_timeout); a
    // second one cuts that short.
    stop_triggers triggers(io, stop);
    triggers.arm(duration_of(a.duration_seconds));
    // --stats: a line on stderr every interval, until the session ends.
    asio::cancellation_signal stats_stop;
    session_metrics last_stats = s.metrics();
    if (a.stats_seconds)
        s.async_watch_metrics(
            to_milliseconds(*a.stats_seconds),
            [&](const session_metrics& m) {
                std::cerr << stats_line(m, last_stats) << std::endl;
                last_stats = m;
            },
            asio::bind_cancellation_slot(stats_stop.slot(), [](const error_code&) {}));
    if (!numbers.empty())
        s.async_subscribe(boost::span<const device_number>(numbers), [](const error_code&) {});
    s.async_run(run_diag, [&](const error_code& ec) {
        run_ec = ec;
        triggers.cancel();
        stats_stop.emit(asio::cancellation_type::terminal);
    });
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                auto [ec, batch] = co_await s.async_receive(asio::as_tuple(asio::use_awaitable));
                if (ec)
                    co_return;
                for (const auto& ev : batch) {
                    if (handle_event(w, ev) && !w.stopping)
                        stop();
                }
            }
        },
        asio::detached);
    io.run();

    if (run_ec && run_ec != client_errc::session_stopped)
        return report(run_ec, run_diag, "watch");
    return exit_ok;
}

// ----------------------------------------------------------------------------------------
// send

namespace {

// send --wait-reply: the payload goes out as a request; the device's first message (not a
// heartbeat) within --reply-timeout, counted from the start, is the answer.
int send_wait_reply(const global_options& g, const send_args& a, const config& cfg,
                    const bytes& payload, const std::optional<device_number>& number,
                    const std::optional<nbiot_id>& nb) {
    if (!(a.reply_timeout_seconds >= min_timeout_seconds &&
          a.reply_timeout_seconds <= max_timeout_seconds))
        throw usage_error("--reply-timeout must be a number of seconds from 0.001 to 86400");
    asio::io_context io;
    session s(io.get_executor(), cfg, a.org);
    requester req(s);
    error_code run_ec, reply_ec;
    diagnostics run_diag;
    bytes reply;
    bool answered = false;
    s.async_run(run_diag, [&](const error_code& e) { run_ec = e; });
    auto on_reply = [&](const error_code& e, bytes r) {
        reply_ec = e;
        reply = std::move(r);
        answered = !e;
        s.stop();
    };
    request_params params;
    params.timeout = to_milliseconds(a.reply_timeout_seconds);
    if (number)
        req.async_request(*number, payload, params, on_reply);
    else
        req.async_request(*nb, payload, params, on_reply);
    std::function<void()> receive = [&] {
        s.async_receive([&](const error_code& e, event_batch batch) {
            if (e)
                return;
            for (const auto& ev : batch)
                req.on_event(ev);
            receive();
        });
    };
    receive();
    io.run();

    const std::string device = number ? std::string(number->view()) : std::string(nb->view());
    const encoding shown = a.hex ? encoding::hex : a.enc;
    if (answered) {
        if (g.json) {
            nlohmann::ordered_json out = {{"device", valid_utf8(device)},
                                          {"bytes", payload.size()},
                                          {"hex", to_hex_packet(payload)},
                                          {"reply_hex", to_hex_packet(reply)}};
            if (shown != encoding::hex)
                out["reply_text"] = payload_text(reply, shown);
            print_json(out);
        } else {
            std::cout << "sent " << payload.size() << " bytes to " << terminal_safe(device) << '\n'
                      << "reply (" << reply.size()
                      << " bytes): " << terminal_safe(payload_text(reply, shown)) << '\n';
        }
        return exit_ok;
    }
    if (run_ec && run_ec != client_errc::session_stopped)
        return report(run_ec, run_diag, "send");
    if (reply_ec == client_errc::reply_timeout) {
        std::cerr << "atomcloud: error: send: no reply from " << terminal_safe(device) << " within "
                  << a.reply_timeout_seconds << " s" << std::endl;
        return exit_failure;
    }
    return report(reply_ec, run_diag, "send");
}

} // namespace

int run_send(const global_options& g, const send_args& a) {
    if (a.number.empty() == a.nbiot_id.empty())
        throw usage_error("send needs exactly one of --number and --nbiot-id");
    if (a.text.has_value() == a.hex.has_value())
        throw usage_error("send needs exactly one of --text and --hex");
    bytes payload;
    error_code ec;
    if (a.hex) {
        payload = parse_hex_packet(*a.hex, ec);
        if (ec)
            throw usage_error("bad --hex '" + *a.hex + "': " + ec.message());
    } else if (a.enc == encoding::gbk) {
        payload = utf8_to_gbk(*a.text, ec);
        if (ec)
            throw usage_error("--text cannot be encoded as GBK: " + ec.message());
    } else if (a.enc == encoding::utf8) {
        payload = to_bytes(*a.text);
    } else {
        throw usage_error("--encoding for --text must be utf8 or gbk");
    }
    std::optional<device_number> number;
    std::optional<nbiot_id> nb;
    if (!a.number.empty())
        number = parse_number(a.number);
    else
        nb = parse_nbiot(a.nbiot_id);
    config cfg = make_config(g);
    cfg.session.when_disconnected = send_policy::queue;
    if (a.wait_reply)
        return send_wait_reply(g, a, cfg, payload, number, nb);

    asio::io_context io;
    session s(io.get_executor(), cfg, a.org);
    error_code run_ec, send_ec;
    diagnostics run_diag;
    bool sent = false;
    bool timed_out = false;
    asio::steady_timer deadline(io);
    deadline.expires_after(to_milliseconds(g.timeout_seconds));
    deadline.async_wait([&](const error_code& e) {
        if (!e && !sent) {
            timed_out = true;
            s.stop();
        }
    });
    s.async_run(run_diag, [&](const error_code& e) {
        run_ec = e;
        deadline.cancel();
    });
    auto on_sent = [&](const error_code& e) {
        send_ec = e;
        sent = !e;
        s.stop();
    };
    if (number)
        s.async_send(*number, payload, on_sent);
    else
        s.async_send_nbiot(*nb, payload, on_sent);
    io.run();

    const std::string device = number ? std::string(number->view()) : std::string(nb->view());
    if (sent) {
        if (g.json)
            print_json({{"device", valid_utf8(device)},
                        {"bytes", payload.size()},
                        {"hex", to_hex_packet(payload)}});
        else
            std::cout << "sent " << payload.size() << " bytes to " << terminal_safe(device) << '\n';
        return exit_ok;
    }
    if (run_ec && run_ec != client_errc::session_stopped)
        return report(run_ec, run_diag, "send");
    if (timed_out) {
        std::cerr << "atomcloud: error: send: no connection within " << g.timeout_seconds
                  << " s (see the warnings above; -v for details)" << std::endl;
        return exit_failure;
    }
    return report(send_ec, run_diag, "send");
}

// ----------------------------------------------------------------------------------------
// devices --watch

namespace {

void print_presence_table(const presence& online) {
    // Home, clear: the table is redrawn in place.
    std::cout << "\x1b[H\x1b[2J";
    table t({"ID", "NUMBER", "NAME", "STATE", "SINCE"});
    for (const auto& d : online.devices()) {
        std::string since = "-";
        if (d.state.state != connection_state::unknown || !d.state.raw.empty()) {
            const std::time_t tt = std::chrono::system_clock::to_time_t(d.since);
            std::tm tm{};
            ::localtime_r(&tt, &tm);
            std::ostringstream os;
            os << std::put_time(&tm, "%H:%M:%S");
            since = os.str();
        }
        t.add({std::to_string(d.info.id), d.info.number, d.info.name, to_string(d.state), since});
    }
    t.print(std::cout);
    std::cout << std::flush;
}

void print_presence_line(const global_options& g, const presence& online,
                         const presence_change& c) {
    const auto* d = online.registry().find(c.number);
    const std::string name = d ? d->info.name : std::string();
    if (g.json) {
        nlohmann::ordered_json line = {{"device", valid_utf8(c.number)},
                                       {"name", valid_utf8(name)},
                                       {"old", valid_utf8(to_string(c.old_state))},
                                       {"new", valid_utf8(to_string(c.new_state))},
                                       {"source", to_string(c.source)}};
        std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                  << std::endl;
        return;
    }
    const std::string old_state =
        c.old_state.raw.empty() && c.old_state.state == connection_state::unknown
            ? std::string("unknown")
            : to_string(c.old_state);
    std::cout << local_clock_time() << "  " << terminal_safe(c.number) << "  "
              << terminal_safe(old_state) << " -> " << terminal_safe(to_string(c.new_state))
              << "  (" << to_string(c.source) << ")  " << terminal_safe(name) << std::endl;
}

} // namespace

int run_devices_watch(const global_options& g, const devices_watch_args& a) {
    if (a.duration_seconds && !(*a.duration_seconds >= min_duration_seconds &&
                                *a.duration_seconds <= max_duration_seconds))
        throw usage_error("--duration must be a number of seconds from 0.001 to 31622400");
    const config cfg = make_config(g);
    const bool redraw = !g.json && ::isatty(STDOUT_FILENO) == 1;

    asio::io_context io;
    rest_client api(io, cfg);
    session s(io.get_executor(), cfg, a.org);
    std::optional<presence> online;
    error_code run_ec, first_seed_ec;
    diagnostics run_diag;
    bool seeded_once = false;
    bool stopping = false;
    auto stop = [&] {
        stopping = true;
        s.stop();
    };

    presence_options opts;
    opts.groups = a.groups;
    opts.on_change = [&](const presence_change& c) {
        if (!redraw)
            print_presence_line(g, *online, c);
        else if (seeded_once)
            print_presence_table(*online);
    };
    opts.on_seeded = [&](const error_code& ec) {
        if (!seeded_once && ec) { // the first seed decides whether there is anything to show
            first_seed_ec = ec;
            return stop();
        }
        if (ec) {
            std::cerr << "atomcloud: warning: could not refresh the device states ("
                      << terminal_safe(ec.message()) << "); retried after the next reconnect"
                      << std::endl;
            return;
        }
        seeded_once = true;
        if (redraw)
            print_presence_table(*online);
    };
    online.emplace(api, s, a.org, std::move(opts));

    stop_triggers triggers(io, stop);
    triggers.arm(duration_of(a.duration_seconds));
    s.async_run(run_diag, [&](const error_code& ec) {
        run_ec = ec;
        triggers.cancel();
    });
    // The first session_connected seeds the registry; so does every reconnect.
    std::function<void()> receive = [&] {
        s.async_receive([&](const error_code& e, event_batch batch) {
            if (e)
                return;
            for (const auto& ev : batch) {
                online->on_event(ev);
                if (const auto* down = std::get_if<session_disconnected>(&ev))
                    if (!stopping && down->reason != client_errc::session_stopped)
                        std::cerr << "atomcloud: connection lost ("
                                  << terminal_safe(down->reason.message())
                                  << "); reconnecting, then refreshing the states" << std::endl;
            }
            receive();
        });
    };
    receive();
    io.run();
    online.reset();

    if (first_seed_ec)
        return report(first_seed_ec, diagnostics{}, "devices");
    if (run_ec && run_ec != client_errc::session_stopped)
        return report(run_ec, run_diag, "devices");
    return exit_ok;
}

} // namespace atomcloud::cli
