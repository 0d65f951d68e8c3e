// Options shared by rest_client and session: plain aggregates with defaults, so designated
// initialisers read well:
//
//   atomcloud::config cfg{.token = "...", .tls = {.ca_file = "ca.pem"}};
//
// (designated initialisers need C++20 in the caller; in C++17 assign the members.)
#ifndef ATOMCLOUD_CONFIG_HPP
#define ATOMCLOUD_CONFIG_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/logger.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace atomcloud {

/// TLS settings. Verification of the server's certificate and host name is on by default.
struct tls_options {
    /// Verify the certificate chain and the host name. Turning this off makes the
    /// connection open to interception; every connection made without verification logs
    /// a warning (and, with no logger set, writes one to stderr once per process).
    bool verify = true;
    /// A PEM file of trusted CA certificates. When neither ca_file nor ca_pem is given,
    /// the system's default trust store is used; when either is, only they are trusted.
    std::string ca_file;
    /// PEM text of trusted CA certificates, trusted together with those of ca_file (and,
    /// like it, instead of the system's store).
    std::string ca_pem;
    /// A TLS context of the caller's, used as it is (its trust store and verify mode);
    /// SNI and host-name verification are still applied per connection when `verify`.
    std::shared_ptr<boost::asio::ssl::context> context;
};

/// Time limits for each step of a connection and for each request.
struct timeout_options {
    std::chrono::milliseconds resolve{std::chrono::seconds(10)};
    std::chrono::milliseconds connect{std::chrono::seconds(10)};
    std::chrono::milliseconds tls_handshake{std::chrono::seconds(10)};
    /// REST: writing a request and reading its whole response.
    std::chrono::milliseconds request{std::chrono::seconds(30)};
    /// Session: the WebSocket upgrade.
    std::chrono::milliseconds websocket_handshake{std::chrono::seconds(10)};
};

/// A capped exponential backoff with jitter, the one schedule of every wait between
/// attempts (the session's reconnects, the REST client's retries, the stream's history
/// reads). The n-th wait after a start (n = 0, 1, ...) is
/// min(initial_delay * multiplier^n, max_delay), randomised by +/- `jitter` (a fraction)
/// and capped at max_delay again. Out-of-range values are tamed: a multiplier below 1
/// counts as 1, jitter is clamped to [0, 1], a max_delay below initial_delay counts as
/// initial_delay, negative durations as zero.
struct backoff_options {
    std::chrono::milliseconds initial_delay{100};
    std::chrono::milliseconds max_delay{std::chrono::seconds(30)};
    double multiplier = 2.0;
    double jitter = 0.2;
};

/// Retries of transient REST failures (connect errors, HTTP 5xx, API code 500, a
/// connection closed mid-response). Timeouts and other errors are not retried.
struct retry_options {
    /// Attempts in all, including the first; 1 turns retries off.
    unsigned max_attempts = 3;
    /// The wait before each retry: 200 ms, then doubled up to 5 s, +/- 20 %.
    backoff_options backoff{std::chrono::milliseconds(200), std::chrono::seconds(5), 2.0, 0.2};
};

/// How the session checks that a quiet link is still alive.
enum class health_check {
    ping, ///< a WebSocket ping after idle_timeout / 2 of silence (the default)
    none, ///< no pings; the link is still declared dead after idle_timeout of silence
};

/// What session::async_send does while the link is down.
enum class send_policy {
    queue, ///< wait for the link, in a bounded queue (client_errc::send_queue_full when full)
    fail,  ///< fail at once with client_errc::not_connected
};

/// Options of the WebSocket session.
struct session_options {
    /// The wait between connection attempts (backoff_options' defaults: 100 ms, doubled up
    /// to 30 s, +/- 20 %). The schedule starts over only after a link was healthy: up for
    /// `healthy_after`, or delivered a device's frame. A server that accepts links and
    /// drops them at once so sees attempts spaced by the growing delay.
    backoff_options reconnect;
    /// A link up for this long counts as healthy (see reconnect).
    std::chrono::milliseconds healthy_after{std::chrono::seconds(10)};
    /// The link is declared dead, and reconnected, when nothing arrives for this long
    /// (0: never); with health_check::ping a WebSocket ping is sent when half of it has
    /// passed in silence. No public client proves the cloud answers pings: if it does not,
    /// choose health_check::none and an idle_timeout longer than the devices' heartbeat.
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
    health_check health = health_check::ping;
    /// How long stop() waits for the server to answer the close frame before it closes
    /// the socket anyway (a second stop() or a cancellation does not wait at all).
    std::chrono::milliseconds close_timeout{std::chrono::seconds(1)};
    /// Whether a server certificate that fails verification is retried like a transient
    /// failure. Off: async_run ends with client_errc::certificate_rejected at once.
    bool retry_tls_failures = false;
    /// Width of the NB-IoT device id in frames 0x07 / 0x08. The vendor's document says 37
    /// bytes (its example id has 36 characters); no public source confirms it.
    std::size_t nbiot_id_width = 37;
    send_policy when_disconnected = send_policy::queue;
    /// Limits of the send queue (messages waiting for the link or for their turn).
    std::size_t max_queued_messages = 4096;
    std::size_t max_queued_bytes = 4 * 1024 * 1024;
    /// Largest WebSocket message accepted from the server.
    std::size_t max_message_size = 1024 * 1024;
    /// Received events held for the application. When async_receive is not called and
    /// these are reached, the session stops reading from the socket (nothing is dropped;
    /// the server sees TCP backpressure) until the application receives again.
    std::size_t max_pending_events = 100000;
    std::size_t max_pending_bytes = 16 * 1024 * 1024;
};

/// Everything a rest_client or session needs.
struct config {
    /// Where the platform is: https://host[:port][/path-prefix]. The REST API lives under
    /// `<base>/api`, the WebSocket endpoint under `<base>/connection` (wss, same host and port).
    std::string base_url = "https://cloud.alientek.com";
    /// The account's API token. Sent in the `token` header and the WebSocket path; never
    /// logged and never part of an error message.
    std::string token;
    std::string user_agent = "atomcloud/" ATOMCLOUD_VERSION_STRING;
    tls_options tls;
    /// An HTTP proxy for the REST and WebSocket connections: `http://[user:password@]host[:port]`
    /// (port 80 when left out; user and password percent-encoded; the scheme may be left
    /// out). Each connection then asks the proxy for a tunnel with `CONNECT host:port`
    /// (credentials, when given, as `Proxy-Authorization: Basic`), and TLS runs end to end
    /// through it: SNI and certificate checks are for the platform, as without a proxy.
    /// The proxy's answer must come within timeouts.connect (the session counts it with the
    /// TCP connect to the proxy). Empty: connect directly. Checked when a client or session starts
    /// (client_errc::invalid_config); the credentials are never logged nor in error texts.
    /// A refusal completes with client_errc::proxy_rejected (the proxy's status in
    /// diagnostics: 407 when it wants other credentials); 5xx refusals are retried like
    /// other transient failures, the others are not.
    std::string proxy;
    /// Hosts reached directly, without the proxy: entries separated by commas, each a host
    /// name (also matching its subdomains; a leading "." changes nothing), an IP address
    /// (matched exactly), either with ":port" to match only that port, or "*" for all.
    /// Loopback addresses are not special: list them to bypass the proxy for them.
    std::string no_proxy;
    timeout_options timeouts;
    /// The platform's time zone: history times are written in it (`start`/`end`), UTC+8.
    std::chrono::minutes server_utc_offset{8 * 60};
    /// Largest HTTP response body accepted: 8 MiB holds a full history page (1000
    /// packets) of payloads up to about 2.7 KiB each. Responses are parsed in one pass
    /// straight into the models, so parsing peaks at about twice the body.
    std::size_t max_response_size = 8 * 1024 * 1024;
    /// REST keep-alive connections open at once; further requests wait their turn.
    std::size_t max_connections = 4;
    retry_options retry;
    session_options session;
    logger log;

    /// A config from the environment: ATOMCLOUD_TOKEN, ATOMCLOUD_BASE_URL,
    /// ATOMCLOUD_CA_FILE, and the proxy from HTTPS_PROXY (or https_proxy) with NO_PROXY (or
    /// no_proxy); each optional, unset or empty ones keep their defaults.
    ATOMCLOUD_DECL static config from_env();
};

/// Checks `cfg` as a session does before any I/O (a rest_client checks the same but the
/// token's presence): a token without control characters, the user agent, the base URL
/// (https://host[:port][/path-prefix]), the proxy URL and session.nbiot_id_width. Returns
/// success, or client_errc::invalid_base_url / client_errc::invalid_config with `what`
/// naming the option and the reason; `what` never holds the token nor the proxy's
/// credentials, so it may be shown as it is.
ATOMCLOUD_DECL error_code validate_config(const config& cfg, std::string& what);

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/config.ipp>
#endif

#endif
