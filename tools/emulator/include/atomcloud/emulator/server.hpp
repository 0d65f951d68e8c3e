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

/// A fault to inject. Each kind applies at one place and is used up by one event there:
///
/// - on a REST reply (http_status, api_code, malformed_body) or on the transport of a
///   REST request (delay, close_connection, truncated_body): each of the next `count`
///   requests under /api/ takes one;
/// - on a WebSocket link: websocket_stall, websocket_drop_mid_frame and
///   websocket_slow_writes are each taken by one of the next frames the cloud sends to an
///   application (0x04/0x05/0x06/0x08, whichever link sends it), websocket_no_pong by one
///   of the next pings an application sends.
///
/// Faults of one place apply in the order they were injected. The members other than
/// `what` are the parameters; each kind reads only its own (listed with the kind).
struct fault {
    enum class kind {
        http_status,      ///< answer with HTTP `status` (200..599) and a short HTML body
        api_code,         ///< answer HTTP 200 with envelope `code` = `code`, `message`
        delay,            ///< wait `delay` (0..600 s), then answer normally
        close_connection, ///< close the TCP connection without answering
        truncated_body,   ///< send headers promising more body than is sent, then close
        malformed_body,   ///< answer HTTP 200 with a body that is not JSON
        /// The link stops writing for `delay` (0..600 s) before the frame: nothing goes
        /// out, not even the answers to pings; frames queued meanwhile follow afterwards.
        websocket_stall,
        /// The frame is cut: its first `cut_after_bytes` bytes are written (0: half of
        /// it; always at least one byte and never all), then the TCP connection is closed.
        websocket_drop_mid_frame,
        /// The ping is not answered (the link otherwise goes on as usual).
        websocket_no_pong,
        /// The frame is written in pieces of `chunk_bytes` bytes (1..65536), each its own
        /// write, `delay` (0..600 s) apart.
        websocket_slow_writes,
    };
    kind what = kind::http_status;
    int status = 503;
    int code = 500;
    std::string message = "injected fault";
    std::chrono::milliseconds delay{0};
    std::size_t chunk_bytes = 1;
    std::size_t cut_after_bytes = 0;
};

/// The name of a fault kind, as the control API spells it: "http_status", "api_code",
/// "delay", "close_connection", "truncated_body", "malformed_body", "websocket_stall",
/// "websocket_drop_mid_frame", "websocket_no_pong" or "websocket_slow_writes". Never
/// throws.
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

/// How the emulator serves; plain values with defaults.
struct options {
    /// An IP address to listen on ("localhost" is taken as 127.0.0.1).
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
    /// Payloads kept per device for received(): at most this many and this many bytes
    /// (the oldest are dropped beyond them).
    std::size_t max_received_per_device = 10000;
    std::size_t max_received_bytes_per_device = 16 * 1024 * 1024;
    /// Entries kept per device in the log of what it sent (device_handle::sent()): at most
    /// this many and this many payload bytes; beyond them the oldest go (and are counted,
    /// see device_handle::sent_dropped()). Not subject to `retention`.
    std::size_t max_sent_log_per_device = 1000000;
    std::size_t max_sent_log_bytes_per_device = 256 * 1024 * 1024;
    simulation_options simulate;
    /// Bytes queued towards one WebSocket client before it is disconnected as too slow.
    std::size_t max_outbound_bytes_per_connection = 16 * 1024 * 1024;
    /// Largest WebSocket message accepted from an application (larger: close 1008).
    std::size_t max_inbound_message_size = 64 * 1024;
    /// Limits of an HTTP request: header block and body.
    std::size_t max_request_header_size = 8 * 1024;
    std::size_t max_request_body_size = 64 * 1024;
    /// Established connections (past their TLS handshake; HTTPS and WSS together);
    /// further ones are closed once their handshake is done.
    std::size_t max_connections = 1024;
    /// Connections still in their TLS handshake, counted apart so that clients that open
    /// TCP connections and never start TLS cannot lock others out: when a new connection
    /// arrives and this many are handshaking, the one that has waited longest is closed.
    std::size_t max_tls_handshakes = 64;
    /// Time allowed for the TLS handshake (also for the WebSocket handshake); time
    /// allowed for each HTTP request to arrive, and after which an idle keep-alive
    /// connection is closed: http_idle_timeout.
    std::chrono::milliseconds tls_handshake_timeout{std::chrono::seconds(3)};
    std::chrono::milliseconds http_idle_timeout{std::chrono::seconds(60)};
    /// A WebSocket connection silent this long is pinged (at half of it) and then closed.
    std::chrono::milliseconds websocket_idle_timeout{std::chrono::seconds(120)};
    /// Log lines (connections, requests, faults); silent when empty. The token is never
    /// written, also not inside a WebSocket path. The sink runs on the server's thread.
    atomcloud::logger log;
};

/// A payload an application sent to a device (frame 0x03 or 0x07).
struct received_message {
    std::chrono::system_clock::time_point time; ///< when it arrived, by options::clock
    atomcloud::bytes payload;
};

/// A payload a device sent (device_handle::send(), the control API's send or the
/// simulation), with the time the cloud stored it under in the history.
struct sent_message {
    /// Exactly the history's time for it: the history page's `time` text of this message
    /// parses to this instant.
    std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds> time;
    atomcloud::bytes payload;
};

/// A device of the fixture, seen from the device side (what a module would do).
///
/// Cheap to copy; keeps the server's state alive. Thread safety: every member may be
/// called from any thread but the server's own (there it throws std::logic_error), also
/// on copies used concurrently. The calls block until the server carried them out; none
/// is asynchronous, so there is nothing to cancel. After the server stopped, received(),
/// received_messages(), wait_received(), clear_received(), sent(), sent_count(),
/// sent_dropped() and clear_sent() still work; the other operations throw
/// std::logic_error.
class device_handle {
public:
    /// Connects the device: state "connected" ("binded" for NB-IoT), and 0x04 to the
    /// sessions subscribed to it (DTU/WIFI/4G only: 0x04 has a 20-byte id, so NB-IoT
    /// devices have no connect event). Connecting a connected device does nothing.
    /// Throws std::logic_error if the server is stopped.
    void connect();
    /// Disconnects the device: state "disconnected" ("notbind"), and 0x05 to subscribed
    /// sessions (DTU/WIFI/4G only). Disconnecting a disconnected device does nothing.
    /// Throws std::logic_error if the server is stopped.
    void disconnect();
    /// Whether the device is connected (bound, for NB-IoT). Throws std::logic_error if the
    /// server is stopped.
    bool connected() const;
    /// The state the REST API reports: "connected"/"disconnected", or "binded"/"notbind"
    /// for NB-IoT devices. Throws std::logic_error if the server is stopped.
    std::string state() const;
    /// True for NB-IoT devices (device_type "03"). Never throws.
    bool is_nbiot() const noexcept { return nbiot_; }
    /// The device sends `payload`: it is stored in the history (and in the log of sent())
    /// and forwarded as 0x06 to the sessions subscribed to the device at that moment (as
    /// 0x08 to every session of the organisation for NB-IoT devices), in the order the
    /// history stores the device's messages; sessions that subscribe later never get it.
    /// Returns once the frames are queued towards every session. A device's message times
    /// never go backwards: should options::clock go back, a message gets the time of the
    /// device's previous one. Throws std::logic_error if the device is not connected (a
    /// real device cannot send then), if the payload is larger than
    /// options::max_inbound_message_size, or if the server is stopped.
    void send(atomcloud::bytes_view payload);
    /// send() of the characters of `text`, as they are (no encoding is applied).
    void send(std::string_view text) { send(atomcloud::as_bytes(text)); }
    /// send() of a NUL-terminated string's characters.
    void send(const char* text) { send(std::string_view(text)); }
    /// What applications sent to this device (0x03 / 0x07 payloads), oldest first, at most
    /// options::max_received_per_device of them. Frames sent while the device was
    /// disconnected are not there: the cloud cannot deliver them, and drops them.
    std::vector<atomcloud::bytes> received() const;
    /// received() with the time each payload arrived.
    std::vector<received_message> received_messages() const;
    /// Waits until at least `count` payloads were received or `timeout` passes; returns
    /// whether they were.
    bool wait_received(std::size_t count, std::chrono::milliseconds timeout) const;
    /// Forgets what was received.
    void clear_received();
    /// Everything the device sent (send(), the control API, the simulation), oldest first,
    /// each with the time the history stores for it: the ground truth, also after the
    /// history evicted a message. At most options::max_sent_log_per_device entries and
    /// max_sent_log_bytes_per_device payload bytes (the oldest are dropped beyond them).
    std::vector<sent_message> sent() const;
    /// The number of entries sent() would return now.
    std::size_t sent_count() const;
    /// How many of the oldest entries the bounds dropped from the log (since the start
    /// or the last clear_sent()).
    std::size_t sent_dropped() const;
    /// Empties the log of sent messages and resets sent_dropped() to 0 (the history is
    /// not touched).
    void clear_sent();
    /// The number of messages in the device's history now (after retention). Throws
    /// std::logic_error if the server is stopped.
    std::size_t history_size() const;
    /// The device's number (its NB-IoT id for NB-IoT devices). Never throws.
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
    std::size_t connections = 0;           ///< open connections (HTTPS and WSS)
    std::size_t tls_handshakes = 0;        ///< of those, still in their TLS handshake
    std::size_t websocket_connections = 0; ///< WebSocket sessions of applications
    std::size_t subscriptions = 0;         ///< (session, device) pairs subscribed
    std::size_t pending_faults = 0;        ///< requests, frames and pings still to be faulted
    bool listening = false;                ///< false while suspended
    bool websocket_refusing = false;       ///< WebSocket upgrades refused (drop_connections)
};

/// The emulated platform: HTTPS REST, WSS and the control API on one TLS port.
///
/// Thread safety: the server runs on its own thread; every member function may be called
/// from any other thread, concurrently (calling one from the server's own thread, e.g.
/// from a logger sink or the clock function, throws std::logic_error). Operations block
/// until the server carried them out; none is asynchronous, so there is nothing to
/// cancel. After stop(), the accessors (port(), base_url(), token(), ca_pem(),
/// client_config(), device(), device_numbers()) keep working and every other operation
/// throws std::logic_error.
class server {
public:
    /// Loads the fixture, prepares TLS and starts listening at once. Throws
    /// std::runtime_error with an explanation if it cannot (bad fixture, unreadable
    /// certificate, bad listen address, port in use, empty token).
    explicit server(options opts = {});
    /// Stops (see stop()).
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Stops serving: closes the listener and every connection abruptly and ends the
    /// server's thread; returns within about two seconds whatever the clients do.
    /// Idempotent; never throws.
    void stop();

    /// The bound port (stays the same across restart() and suspend()/resume()).
    std::uint16_t port() const;
    /// "https://127.0.0.1:<port>": the listen address ("127.0.0.1" or "[::1]" for a
    /// wildcard one) and the bound port.
    std::string base_url() const;
    /// The API token the emulator accepts.
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

    /// Closes every WebSocket connection abruptly (no close frame); their subscriptions
    /// end with them. HTTPS connections stay. Same as drop_connections(0ms).
    void drop_connections();
    /// A WebSocket-only outage: closes every WebSocket connection abruptly (also those
    /// still in their WebSocket handshake) and, for `refuse_for` from now, answers every
    /// WebSocket upgrade request with HTTP 503 and the envelope {code 500, message
    /// "websocket unavailable (injected outage)"}; such a request never becomes a session.
    /// REST and control requests are served normally meanwhile, and devices keep sending
    /// (into the history). Replaces a refusal in progress (0 ends it). Throws
    /// std::invalid_argument for a negative `refuse_for`, std::logic_error if stopped.
    void drop_connections(std::chrono::milliseconds refuse_for);
    /// Stops accepting connections and drops every open one, until resume() ("the cloud
    /// is down"). Devices keep their state and may keep sending (into the history).
    /// Throws std::logic_error if stopped.
    void suspend();
    /// Listens again on the same port after suspend(); does nothing when not suspended.
    /// Throws std::runtime_error if the port cannot be bound again, std::logic_error if
    /// stopped.
    void resume();
    /// Closes every connection and listens again on the same port; devices, history and
    /// faults are kept. Throws std::runtime_error if the port cannot be bound again,
    /// std::logic_error if stopped.
    void restart();

    /// Injects `f` into the next `count` events where it applies (requests under /api/,
    /// frames to applications or pings from them; see fault), after the faults already
    /// pending there: they apply in order. Throws std::invalid_argument if a parameter of
    /// the kind is out of its range (see fault::kind), std::logic_error if stopped.
    void inject_fault(const fault& f, std::size_t count = 1);
    /// Forgets every pending fault. Throws std::logic_error if stopped.
    void clear_faults();

    /// Open WebSocket sessions. Throws std::logic_error if stopped.
    std::size_t websocket_connections() const;
    /// Sessions subscribed to a device. Throws std::out_of_range for an unknown device,
    /// std::logic_error if stopped.
    std::size_t subscribers(std::string_view number) const;
    /// Counters of connections, sessions, subscriptions and faults. Throws
    /// std::logic_error if stopped.
    server_status status() const;
    /// Waits until websocket_connections() equals `count` or `timeout` passes; returns
    /// whether it did. Throws std::logic_error if stopped.
    bool wait_websocket_connections(std::size_t count, std::chrono::milliseconds timeout) const;
    /// Waits until subscribers(number) equals `count` or `timeout` passes; returns whether
    /// it did (a subscribe frame is handled some time after the client sent it). Throws
    /// as subscribers().
    bool wait_subscribers(std::string_view number, std::size_t count,
                          std::chrono::milliseconds timeout) const;

    /// The implementation (defined in the library).
    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace atomcloud::emulator

#endif
