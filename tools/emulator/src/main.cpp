// atomcloud-emulator: the local Atom Cloud as a program. Prints where it listens and the
// token to use, serves until SIGINT or SIGTERM, then exits 0.
#include <atomcloud/emulator/server.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <sstream>
#include <string>
#include <system_error>

namespace {

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size())
        return false;
    host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const char* first = listen.data() + colon + 1;
    const char* last = listen.data() + listen.size();
    std::uint16_t value = 0;
    const auto [end, ec] = std::from_chars(first, last, value); // out of range: an error
    if (ec != std::errc() || end != last || host.empty())
        return false;
    port = value;
    return true;
}

// Seconds as an option: a decimal number from `min` to `max` (finite), else exit 2.
CLI::Option* add_seconds(CLI::App& app, const std::string& name, double& into,
                         const std::string& help, double min, double max) {
    return app
        .add_option_function<std::string>(
            name,
            [&into, name, min, max](const std::string& text) {
                double value = 0;
                const char* last = text.data() + text.size();
                const auto [end, ec] = std::from_chars(text.data(), last, value);
                if (text.empty() || ec != std::errc() || end != last || !std::isfinite(value) ||
                    value < min || value > max) {
                    std::ostringstream range;
                    range << min << " to " << max;
                    throw CLI::ValidationError(name, "expected a number of seconds from " +
                                                         range.str() + ", got '" + text + "'");
                }
                into = value;
            },
            help)
        ->default_str([&into] {
            std::ostringstream s;
            s << into;
            return s.str();
        }());
}

std::chrono::milliseconds seconds_to_ms(double s) {
    return std::chrono::milliseconds(std::llround(s * 1000.0)); // s is range-checked
}

/// What the command line sets.
struct arguments {
    std::string listen = "127.0.0.1:8443";
    std::string fixture, token, write_ca, cert, key;
    bool simulate = false, connect_all = false;
    double heartbeat = 60, reading = 5, handshake_timeout = 3;
    std::size_t max_handshakes = 64;
    int verbosity = 0;
};

void add_options(CLI::App& app, arguments& a) {
    app.add_option("--listen", a.listen,
                   "Address and port, e.g. 127.0.0.1:8443 (port 0: any free one)")
        ->capture_default_str();
    app.add_option("--fixture", a.fixture,
                   "Organisations, groups and devices as JSON (default: built in)")
        ->check(CLI::ExistingFile);
    app.add_option("--token", a.token, "The API token to accept (default: a built-in test token)");
    app.add_option("--write-ca", a.write_ca,
                   "Write the PEM certificate clients must trust to this file");
    auto* cert_opt =
        app.add_option("--cert", a.cert, "PEM certificate chain (default: generate one)")
            ->check(CLI::ExistingFile);
    auto* key_opt =
        app.add_option("--key", a.key, "PEM private key of --cert")->check(CLI::ExistingFile);
    cert_opt->needs(key_opt);
    key_opt->needs(cert_opt);
    app.add_flag("--simulate", a.simulate, "Connected devices send heartbeats and readings");
    add_seconds(app, "--heartbeat-interval", a.heartbeat, "Seconds between heartbeats (0: none)", 0,
                86400);
    add_seconds(app, "--reading-interval", a.reading, "Seconds between readings (0: none)", 0,
                86400);
    add_seconds(app, "--tls-handshake-timeout", a.handshake_timeout,
                "Seconds a TLS handshake may take", 0.001, 3600);
    app.add_option_function<std::string>(
           "--max-tls-handshakes",
           [&a](const std::string& text) {
               std::size_t value = 0;
               const char* last = text.data() + text.size();
               const auto [end, ec] = std::from_chars(text.data(), last, value);
               if (text.empty() || ec != std::errc() || end != last || value == 0 || value > 100000)
                   throw CLI::ValidationError("--max-tls-handshakes",
                                              "expected an integer from 1 to 100000, got '" + text +
                                                  "'");
               a.max_handshakes = value;
           },
           "Connections allowed in their TLS handshake at once")
        ->default_str("64");
    app.add_flag("--connect-all", a.connect_all, "Start with every device connected");
    app.add_flag("-v,--verbose", a.verbosity, "Log requests and sessions (-vv: debug)");
}

/// The server's options (listen_address and port are set by the caller).
atomcloud::emulator::options to_options(const arguments& a) {
    atomcloud::emulator::options opts;
    opts.fixture_file = a.fixture;
    if (!a.token.empty())
        opts.token = a.token;
    opts.cert_file = a.cert;
    opts.key_file = a.key;
    opts.simulate.enabled = a.simulate;
    opts.simulate.heartbeat_interval = seconds_to_ms(a.heartbeat);
    opts.simulate.reading_interval = seconds_to_ms(a.reading);
    opts.simulate.connect_all = a.connect_all;
    opts.max_tls_handshakes = a.max_handshakes;
    opts.tls_handshake_timeout = seconds_to_ms(a.handshake_timeout);
    opts.log = atomcloud::logger::to_stderr(a.verbosity >= 2   ? atomcloud::log_level::debug
                                            : a.verbosity == 1 ? atomcloud::log_level::info
                                                               : atomcloud::log_level::warning);
    return opts;
}

/// Serves until SIGINT or SIGTERM (blocked in `signals`); the exit status.
int serve(const atomcloud::emulator::options& opts, const std::string& write_ca,
          const sigset_t& signals) {
    try {
        atomcloud::emulator::server cloud(opts);
        if (!write_ca.empty()) {
            std::ofstream out(write_ca, std::ios::binary | std::ios::trunc);
            out << cloud.ca_pem();
            out.close();
            if (!out) {
                std::cerr << "atomcloud-emulator: cannot write the CA to '" << write_ca << "'\n";
                return 1;
            }
        }
        std::cout << "base_url=" << cloud.base_url() << '\n' << "token=" << cloud.token() << '\n';
        if (!write_ca.empty())
            std::cout << "ca=" << write_ca << '\n';
        std::cout << std::flush;

        int sig = 0;
        sigwait(&signals, &sig);
        std::cerr << "atomcloud-emulator: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                  << ", stopping\n";
        cloud.stop();
    } catch (const std::exception& e) {
        std::cerr << "atomcloud-emulator: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"The local Atom Cloud: the platform's HTTPS REST API and WebSocket API on one "
                 "port, with simulated devices and a control API under /emulator/."};
    arguments args;
    add_options(app, args);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2; // --help and --version exit 0, mistakes 2
    }
    auto opts = to_options(args);
    if (!split_listen(args.listen, opts.listen_address, opts.port)) {
        std::cerr << "atomcloud-emulator: --listen wants HOST:PORT, e.g. 127.0.0.1:8443\n";
        return 2;
    }
    // Signals are taken with sigwait(); block them before the server's thread starts so
    // that it inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return serve(opts, args.write_ca, signals);
}
