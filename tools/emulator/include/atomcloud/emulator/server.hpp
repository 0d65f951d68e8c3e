// The local Atom Cloud: the platform's application API (HTTPS REST + WSS) on loopback,
// with simulated devices, for development and tests without the cloud or a token.
//
//   atomcloud::emulator::server cloud;              // HTTPS + WSS on 127.0.0.1:<free port>
//   atomcloud::config cfg = cloud.client_config();  // base URL, token, CA: verified TLS
//   cloud.device("18846494908532689575").connect(); // -> 0x04 to subscribed apps
//   cloud.device("18846494908532689575").send("ALIENTEK-HRTDT"); // -> history + 0x06
//   ... run the application against cfg ...
//   auto got = cloud.device("18846494908532689575").received();  // what apps sent (0x03)
//
// The server runs on its own thread. Every member function is thread-safe and may be
// called from any thread except the server's own (i.e. not from inside its handlers, such
// as a logger sink or the clock function); calling one from there throws std::logic_error.
// Blocking functions return once the server has carried the operation out (e.g. after
// device_handle::send() the frames are queued towards every subscriber).
#ifndef ATOMCLOUD_EMULATOR_SERVER_HPP
#define ATOMCLOUD_EMULATOR_SERVER_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/config.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::emulator {

/// A fault injected on the REST side (requests under /api/), for the next N requests.
struct fault {
    enum class kind {
        http_status,      ///< answer with HTTP `status` (e.g. 503) and a short body
        api_code,         ///< answer HTTP 200 with envelope `code` = `code`, `message`
        delay,            ///< wait `delay`, then answer normally
        close_connection, ///< close the TCP connection without answering
        truncated_body,   ///< send headers promising more body than is sent, then close
        malformed_body,   ///< answer HTTP 200 with a body that is not JSON
    };
    kind what = kind::http_status;
    int status = 503;
    int code = 500;
    std::string message = "injected fault";
    std::chrono::milliseconds delay{0};
};

/// "http_status", "api_code", "delay", "close_connection", "truncated_body",
/// "malformed_body" (the names the control API uses).
const char* to_string(fault::kind k) noexcept;

/// Simulated device traffic, for demos.
struct simulation_options {
    bool enabled = false;
    /// Every connected DTU/WIFI/4G device sends "ALIENTEK-HRTDT" this often (0: never).
    std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(60)};
    /// Every connected device sends a reading (GBK text, e.g. "温度:23.5℃ 湿度:41%") this
    /// often (0: never).
    std::chrono::milliseconds reading_interval{std::chrono::seconds(5)};
    /// Connect every device of the fixture at start-up.
    bool connect_all = false;
};

struct options {
    std::string listen_address = "127.0.0.1";
    std::uint16_t port = 0; ///< 0: any free port (see server::port())
    /// The account's API token the emulator accepts (`token` header, WebSocket path).
    std::string token = "emulator-token-0123456789abcdef";
    /// Devices, groups and organisations, as JSON (see fixtures/default.json). Empty
    /// `fixture_file` and `fixture_json`: the built-in default fixture.
    std::string fixture_file;
    std::string fixture_json;
    /// PEM certificate chain and private key. Empty: a fresh self-signed P-256
    /// certificate for 127.0.0.1, ::1 and localhost is generated at start-up.
    std::string cert_file;
    std::string key_file;
    /// With cert_file: the PEM file clients should trust (ca_pem()). Empty: the
    /// certificate chain itself.
    std::string ca_file;
    /// The emulator's clock (message times, 6-hour retention, time filters). Called on the
    /// server's thread; empty: std::chrono::system_clock::now.
    std::function<std::chrono::system_clock::time_point()> clock;
    /// History retention and its hard bounds per device (the oldest messages go first).
    std::chrono::seconds retention{std::chrono::hours(6)};
    std::size_t max_history_per_device = 100000;
    std::size_t max_history_bytes_per_device = 64 * 1024 * 1024;
    /// Payloads kept per device for received() (the oldest are dropped beyond this).
    std::size_t max_received_per_device = 10000;
    simulation_options simulate;
    /// Bytes queued towards one WebSocket client before it is disconnected as too slow.
    std::size_t max_outbound_bytes_per_connection = 16 * 1024 * 1024;
    /// Largest WebSocket message accepted from an application (larger: close 1008).
    std::size_t max_inbound_message_size = 64 * 1024;
    /// Limits of an HTTP request: header block and body.
    std::size_t max_request_header_size = 8 * 1024;
    std::size_t max_request_body_size = 64 * 1024;
    /// Open connections (HTTPS and WSS together); further ones are closed at once.
    std::size_t max_connections = 1024;
    /// Time allowed for the TLS handshake and for each HTTP request to arrive; a keep-alive
    /// connection idle for http_idle_timeout is closed.
    std::chrono::milliseconds tls_handshake_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds http_idle_timeout{std::chrono::seconds(60)};
    /// A WebSocket connection silent this long is pinged (at half of it) and then closed.
    std::chrono::milliseconds websocket_idle_timeout{std::chrono::seconds(120)};
    /// Log lines (connections, requests, faults); silent when empty. The token is never
    /// written, also not inside a WebSocket path. The sink runs on the server's thread.
    atomcloud::logger log;
};

/// A payload an application sent to a device (frame 0x03 or 0x07).
struct received_message {
    std::chrono::system_clock::time_point time;
    atomcloud::bytes payload;
};

/// A device of the fixture, seen from the device side. Cheap to copy; stays usable after
/// the server stopped (received() still answers, other operations throw std::logic_error).
class device_handle {
public:
    /// Connects the device: state "connected" ("binded" for NB-IoT) and 0x04 to
    /// subscribed applications (DTU/WIFI/4G only: 0x04 has a 20-byte id). Connecting a
    /// connected device does nothing.
    void connect();
    /// Disconnects the device: state "disconnected" ("notbind") and 0x05 to subscribed
    /// applications (DTU/WIFI/4G only). Disconnecting a disconnected device does nothing.
    void disconnect();
    /// Whether the device is connected.
    bool connected() const;
    /// The state the REST API reports: "connected"/"disconnected", or "binded"/"notbind"
    /// for NB-IoT devices.
    std::string state() const;
    /// True for NB-IoT devices (device_type "03").
    bool is_nbiot() const noexcept { return nbiot_; }
    /// The device sends bytes: stored in the history, forwarded as 0x06 to subscribed
    /// applications (0x08 to every application of the organisation for NB-IoT devices).
    /// Throws std::logic_error if the device is not connected (a real device cannot send
    /// then) or the payload is larger than options::max_inbound_message_size.
    void send(atomcloud::bytes_view payload);
    void send(std::string_view text) { send(atomcloud::as_bytes(text)); }
    void send(const char* text) { send(std::string_view(text)); }
    /// What applications sent to this device (0x03 / 0x07 payloads), oldest first. Frames
    /// sent while the device was disconnected were dropped, as the cloud cannot deliver
    /// them.
    std::vector<atomcloud::bytes> received() const;
    /// received() with the time each payload arrived.
    std::vector<received_message> received_messages() const;
    /// Waits until at least `count` payloads were received or `timeout` passes; returns
    /// whether they were.
    bool wait_received(std::size_t count, std::chrono::milliseconds timeout) const;
    /// Forgets what was received.
    void clear_received();
    /// Messages currently in the device's history (after retention).
    std::size_t history_size() const;
    const std::string& number() const noexcept { return number_; }

private:
    friend class server;
    struct impl_access;
    device_handle(std::shared_ptr<void> state, std::string number, std::size_t index, bool nbiot)
        : state_(std::move(state)), number_(std::move(number)), index_(index), nbiot_(nbiot) {}
    std::shared_ptr<void> state_;
    std::string number_;
    std::size_t index_ = 0;
    bool nbiot_ = false;
};

/// What the emulator is doing, for tests and the control API's /emulator/status.
struct server_status {
    std::size_t connections = 0;           ///< open TLS connections (HTTPS and WSS)
    std::size_t websocket_connections = 0; ///< WebSocket sessions of applications
    std::size_t subscriptions = 0;         ///< (session, device) pairs subscribed
    std::size_t pending_faults = 0;        ///< REST requests still to be faulted
    bool listening = false;                ///< false while suspended
};

class server {
public:
    /// Loads the fixture, prepares TLS and starts listening at once. Throws
    /// std::runtime_error with an explanation if it cannot (bad fixture, unreadable
    /// certificate, port in use ...).
    explicit server(options opts = {});
    /// Stops, closing every connection.
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Stops serving: closes the listener and every connection abruptly and ends the
    /// server's thread. Idempotent.
    void stop();

    /// The bound port (stays the same across restart() and suspend()/resume()).
    std::uint16_t port() const;
    /// "https://127.0.0.1:<port>" (the listen address; "localhost" for a wildcard one).
    std::string base_url() const;
    const std::string& token() const;
    /// The PEM of the certificate clients must trust.
    const std::string& ca_pem() const;
    /// A client config for this emulator: base URL, token and CA (verification on).
    atomcloud::config client_config() const;

    /// A device of the fixture by its 20-character number or NB-IoT id. Throws
    /// std::out_of_range if there is none.
    device_handle device(std::string_view number);
    /// The numbers of every device of the fixture, in fixture order.
    std::vector<std::string> device_numbers() const;

    /// Closes every WebSocket connection abruptly (no close frame). HTTPS connections stay.
    void drop_connections();
    /// Stops accepting connections and drops every open one until resume().
    void suspend();
    /// Listens again on the same port after suspend(); throws std::runtime_error if the
    /// port cannot be bound again. Does nothing when not suspended.
    void resume();
    /// Closes everything and listens again on the same port; devices, history and
    /// faults are kept.
    void restart();

    /// Injects `f` into the next `count` REST requests under /api/ (after any faults
    /// already pending: they apply in order).
    void inject_fault(const fault& f, std::size_t count = 1);
    void clear_faults();

    /// Open WebSocket connections / subscribers of a device (for tests).
    std::size_t websocket_connections() const;
    std::size_t subscribers(std::string_view number) const;
    server_status status() const;
    /// Wait until websocket_connections() / subscribers(number) equals `count`, or
    /// `timeout` passes; return whether it did.
    bool wait_websocket_connections(std::size_t count, std::chrono::milliseconds timeout) const;
    bool wait_subscribers(std::string_view number, std::size_t count,
                          std::chrono::milliseconds timeout) const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace atomcloud::emulator

#endif
