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
// called from any thread except the server's own (i.e. not from inside its handlers).
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
        api_code,         ///< answer HTTP 200 with envelope `code` = `code`
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

/// Simulated device traffic, for demos.
struct simulation_options {
    bool enabled = false;
    /// Every connected DTU/WIFI device sends "ALIENTEK-HRTDT" this often (0: never).
    std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(60)};
    /// Every connected device sends a reading (GBK text, e.g. "温度:23.5") this often (0: never).
    std::chrono::milliseconds reading_interval{std::chrono::seconds(5)};
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
    /// certificate for 127.0.0.1 and localhost is generated at start-up.
    std::string cert_file;
    std::string key_file;
    /// The emulator's clock (message times, 6-hour retention, time filters).
    std::function<std::chrono::system_clock::time_point()> clock;
    /// History retention and its hard bound per device.
    std::chrono::seconds retention{std::chrono::hours(6)};
    std::size_t max_history_per_device = 100000;
    simulation_options simulate;
    /// Bytes queued towards one WebSocket client before it is disconnected as too slow.
    std::size_t max_outbound_bytes_per_connection = 16 * 1024 * 1024;
    /// Log lines (connections, requests, faults); silent when empty.
    atomcloud::logger log;
};

/// A device of the fixture, seen from the device side.
class device_handle {
public:
    /// Connects the device: state "connected" ("binded" for NB-IoT) and 0x04 to
    /// subscribed applications (DTU/WIFI only: 0x04 has a 20-byte id).
    void connect();
    /// Disconnects the device: state "disconnected" ("notbind") and 0x05.
    void disconnect();
    bool connected() const;
    /// The device sends bytes: stored in the history, forwarded as 0x06 to subscribed
    /// applications (0x08 to every application of the organisation for NB-IoT devices).
    void send(atomcloud::bytes_view payload);
    void send(std::string_view text) { send(atomcloud::as_bytes(text)); }
    /// What applications sent to this device (0x03 / 0x07 payloads), oldest first.
    std::vector<atomcloud::bytes> received() const;
    /// Waits until at least `count` payloads were received or `timeout` passes; returns
    /// whether they were.
    bool wait_received(std::size_t count, std::chrono::milliseconds timeout) const;
    /// Forgets what was received.
    void clear_received();
    const std::string& number() const noexcept { return number_; }

private:
    friend class server;
    struct impl_access;
    device_handle(std::shared_ptr<void> state, std::string number)
        : state_(std::move(state)), number_(std::move(number)) {}
    std::shared_ptr<void> state_;
    std::string number_;
};

class server {
public:
    /// Starts listening at once (throws std::runtime_error if it cannot).
    explicit server(options opts = {});
    /// Stops, closing every connection.
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Stops serving; idempotent.
    void stop();

    std::uint16_t port() const;
    /// "https://127.0.0.1:<port>"
    std::string base_url() const;
    const std::string& token() const;
    /// The PEM of the certificate clients must trust.
    const std::string& ca_pem() const;
    /// A client config for this emulator: base URL, token and CA (verification on).
    atomcloud::config client_config() const;

    /// A device of the fixture by its 20-character number or NB-IoT id. Throws
    /// std::out_of_range if there is none.
    device_handle device(std::string_view number);

    /// Closes every WebSocket connection abruptly (no close frame).
    void drop_connections();
    /// Stops accepting connections and drops the open ones until resume().
    void suspend();
    void resume();
    /// Closes everything and listens again on the same port; devices, history and
    /// faults are kept.
    void restart();

    /// Injects `f` into the next `count` REST requests under /api/.
    void inject_fault(const fault& f, std::size_t count = 1);
    void clear_faults();

    /// Open WebSocket connections / subscribers of a device (for tests).
    std::size_t websocket_connections() const;
    std::size_t subscribers(std::string_view number) const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace atomcloud::emulator

#endif
