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

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"The local Atom Cloud: the platform's HTTPS REST API and WebSocket API on one "
                 "port, with simulated devices and a control API under /emulator/."};
    std::string listen = "127.0.0.1:8443";
    std::string fixture, token, write_ca, cert, key;
    bool simulate = false, connect_all = false;
    double heartbeat = 60, reading = 5, handshake_timeout = 3;
    std::size_t max_handshakes = 64;
    int verbosity = 0;
    app.add_option("--listen", listen,
                   "Address and port, e.g. 127.0.0.1:8443 (port 0: any free one)")
        ->capture_default_str();
    app.add_option("--fixture", fixture,
                   "Organisations, groups and devices as JSON (default: built in)")
        ->check(CLI::ExistingFile);
    app.add_option("--token", token, "The API token to accept (default: a built-in test token)");
    app.add_option("--write-ca", write_ca,
                   "Write the PEM certificate clients must trust to this file");
    auto* cert_opt = app.add_option("--cert", cert, "PEM certificate chain (default: generate one)")
                         ->check(CLI::ExistingFile);
    auto* key_opt =
        app.add_option("--key", key, "PEM private key of --cert")->check(CLI::ExistingFile);
    cert_opt->needs(key_opt);
    key_opt->needs(cert_opt);
    app.add_flag("--simulate", simulate, "Connected devices send heartbeats and readings");
    add_seconds(app, "--heartbeat-interval", heartbeat, "Seconds between heartbeats (0: none)", 0,
                86400);
    add_seconds(app, "--reading-interval", reading, "Seconds between readings (0: none)", 0, 86400);
    add_seconds(app, "--tls-handshake-timeout", handshake_timeout,
                "Seconds a TLS handshake may take", 0.001, 3600);
    app.add_option_function<std::string>(
           "--max-tls-handshakes",
           [&max_handshakes](const std::string& text) {
               std::size_t value = 0;
               const char* last = text.data() + text.size();
               const auto [end, ec] = std::from_chars(text.data(), last, value);
               if (text.empty() || ec != std::errc() || end != last || value == 0 || value > 100000)
                   throw CLI::ValidationError("--max-tls-handshakes",
                                              "expected an integer from 1 to 100000, got '" + text +
                                                  "'");
               max_handshakes = value;
           },
           "Connections allowed in their TLS handshake at once")
        ->default_str("64");
    app.add_flag("--connect-all", connect_all, "Start with every device connected");
    app.add_flag("-v,--verbose", verbosity, "Log requests and sessions (-vv: debug)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2; // --help and --version exit 0, mistakes 2
    }

    atomcloud::emulator::options opts;
    if (!split_listen(listen, opts.listen_address, opts.port)) {
        std::cerr << "atomcloud-emulator: --listen wants HOST:PORT, e.g. 127.0.0.1:8443\n";
        return 2;
    }
    opts.fixture_file = fixture;
    if (!token.empty())
        opts.token = token;
    opts.cert_file = cert;
    opts.key_file = key;
    opts.simulate.enabled = simulate;
    opts.simulate.heartbeat_interval = seconds_to_ms(heartbeat);
    opts.simulate.reading_interval = seconds_to_ms(reading);
    opts.simulate.connect_all = connect_all;
    opts.max_tls_handshakes = max_handshakes;
    opts.tls_handshake_timeout = seconds_to_ms(handshake_timeout);
    opts.log = atomcloud::logger::to_stderr(verbosity >= 2   ? atomcloud::log_level::debug
                                            : verbosity == 1 ? atomcloud::log_level::info
                                                             : atomcloud::log_level::warning);

    // Signals are taken with sigwait() below; block them before the server's thread starts
    // so that it inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

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
