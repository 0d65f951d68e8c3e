// The emulated platform without sockets: device state, history, subscriptions and the
// fan-out of frames, the REST and control endpoints as functions from a request to a
// reply, and the fault queue. Everything except the received-payload store and the sent
// log runs on the server's thread only; the network layer feeds it.
//
// Its members are defined by concern: cloud.cpp (devices, logging), rest_api.cpp (the
// platform's REST routes and WebSocket admission), control_api.cpp (/emulator/...),
// fanout.cpp (sessions, subscriptions, frames), store.cpp (what devices received and
// sent).
#ifndef ATOMCLOUD_EMULATOR_SRC_CLOUD_HPP
#define ATOMCLOUD_EMULATOR_SRC_CLOUD_HPP

#include "faults.hpp"
#include "fixture.hpp"
#include "history.hpp"
#include "reply.hpp"
#include "target.hpp"

#include <atomcloud/bytes.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/emulator/server.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/logger.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::emulator::detail {

/// An application's WebSocket session as the cloud sees it.
class app_link {
public:
    explicit app_link(std::size_t org) noexcept : org_(org) {}
    virtual ~app_link() = default;
    app_link(const app_link&) = delete;
    app_link& operator=(const app_link&) = delete;

    /// Queues an encoded frame towards the application. Must not detach the link
    /// synchronously (the cloud may be iterating over its links).
    virtual void deliver(const std::shared_ptr<const bytes>& frame) = 0;

    std::size_t org() const noexcept { return org_; }

private:
    friend class cloud;
    std::size_t org_;
    std::vector<std::size_t> subscriptions_; // device indexes
    bool attached_ = false;
};

/// Where a WebSocket upgrade request goes.
struct ws_admission {
    bool accepted = false;
    std::size_t org = 0;    ///< when accepted
    http_reply rejection;   ///< when not
    std::string log_target; ///< the target with the token redacted
};

class cloud {
public:
    cloud(const options& opts, fixture fx);

    const fixture& devices() const noexcept { return fx_; }
    std::chrono::system_clock::time_point now() const;

    // ---- HTTP ---------------------------------------------------------------------
    /// True for targets under /api (where REST faults apply).
    static bool is_api_target(std::string_view target) noexcept;
    /// Answers a request that is not a WebSocket upgrade: /api/..., /emulator/... or 404.
    http_reply handle_http(const http_request& req);
    /// Checks a WebSocket upgrade request (path, API token, org, random token).
    ws_admission admit_websocket(std::string_view target) const;

    // ---- faults ---------------------------------------------------------------------
    /// Throws std::invalid_argument if a parameter is out of range (check_fault()).
    void inject_fault(const fault& f, std::size_t count);
    void clear_faults() noexcept { faults_.clear(); }
    /// The fault for the next event `t`, if any (uses up one count).
    std::optional<fault> take_fault(fault_trigger t) { return faults_.take(t); }
    std::size_t pending_faults() const noexcept { return faults_.size(); }

    // ---- WebSocket sessions -----------------------------------------------------------
    void attach(app_link& link);
    void detach(app_link& link) noexcept;
    /// Handles one binary message from an application. A malformed frame returns its
    /// error (the caller closes the session); a frame about a device the session's
    /// organisation does not have is logged and ignored.
    error_code on_app_message(app_link& link, bytes_view message);
    std::size_t websocket_sessions() const noexcept { return links_; }
    std::size_t subscriptions() const noexcept;
    std::size_t subscribers(std::size_t device) const noexcept {
        return states_[device].subscribers.size();
    }

    // ---- devices (server thread) ------------------------------------------------------
    /// Returns false if the device already was in that state.
    bool connect_device(std::size_t device);
    bool disconnect_device(std::size_t device);
    bool connected(std::size_t device) const noexcept { return states_[device].connected; }
    std::string state_text(std::size_t device) const;
    /// The device sends `payload`. Throws std::logic_error if it is not connected or the
    /// payload is too large.
    void device_send(std::size_t device, bytes_view payload);
    std::size_t history_size(std::size_t device);

    // ---- the log of what devices sent (any thread) --------------------------------------
    std::vector<sent_message> sent(std::size_t device) const;
    std::size_t sent_count(std::size_t device) const;
    std::size_t sent_dropped(std::size_t device) const;
    void clear_sent(std::size_t device);

    // ---- received payloads (any thread) -----------------------------------------------
    std::vector<received_message> received(std::size_t device) const;
    bool wait_received(std::size_t device, std::size_t count,
                       std::chrono::milliseconds timeout) const;
    void clear_received(std::size_t device);

    // ---- bookkeeping the network layer maintains --------------------------------------
    std::size_t open_connections = 0;
    bool listening = false;
    /// WebSocket upgrades are refused (HTTP 503) until then (drop_connections).
    std::chrono::steady_clock::time_point websocket_refused_until{};
    bool refusing_websockets() const noexcept {
        return std::chrono::steady_clock::now() < websocket_refused_until;
    }

    // ---- logging ----------------------------------------------------------------------
    bool logs(log_level l) const noexcept { return log_.enabled(l); }
    /// Logs `message` with the API token redacted.
    void log(log_level l, std::string_view message) const;

private:
    using sent_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;
    struct device_state {
        bool connected = false;
        history hist;
        std::optional<sent_time> last_sent; // the time of the device's newest message
        std::vector<app_link*> subscribers;
        std::optional<device_number> number;   // DTU/WIFI/4G
        std::optional<nbiot_id> nb_id;         // NB-IoT
        std::deque<received_message> received; // guarded by received_mutex_
        std::size_t received_bytes = 0;        // guarded by received_mutex_
        std::deque<sent_message> sent;         // guarded by sent_mutex_
        std::size_t sent_bytes = 0;            // guarded by sent_mutex_
        std::size_t sent_dropped = 0;          // guarded by sent_mutex_
    };
    // rest_api.cpp
    http_reply handle_api(const http_request& req, const request_target& target);
    http_reply groups_reply(std::size_t org) const;
    http_reply devices_reply(std::size_t org, std::string_view group) const;
    http_reply state_reply(std::size_t org, std::string_view device) const;
    http_reply history_reply(std::size_t org, std::string_view number,
                             const request_target& target);
    // control_api.cpp
    http_reply handle_control(const http_request& req, const request_target& target);
    http_reply status_reply(const http_request& req, bool devices_only);
    http_reply faults_reply(const http_request& req);
    http_reply drop_connections_reply(const http_request& req) const;
    http_reply suspend_reply(const http_request& req) const;
    http_reply device_control(const http_request& req, std::size_t device, std::string_view action,
                              const request_target& target);
    http_reply device_send_reply(const http_request& req, std::size_t device);
    http_reply sent_reply(std::size_t device, const request_target& target);
    http_reply received_reply(std::size_t device);
    void publish_event(std::size_t device, bool connected);
    void record_received(std::size_t device, bytes_view payload);
    void record_sent(std::size_t device, sent_time t, bytes_view payload);
    json device_status_json(std::size_t device);
    json status_json() const;
    const device_entry* org_device(std::size_t org, std::string_view number) const;

    const options& opts_;
    fixture fx_;
    history_limits limits_;
    logger log_;
    std::vector<device_state> states_;
    std::vector<std::vector<app_link*>> org_links_;
    std::size_t links_ = 0;
    fault_queue faults_;

    mutable std::mutex received_mutex_;
    mutable std::condition_variable received_cv_;
    mutable std::mutex sent_mutex_;
};

} // namespace atomcloud::emulator::detail

#endif
