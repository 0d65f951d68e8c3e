// The faults the emulator can inject, as one table: each kind with its name, where it
// applies, what uses it up, and its parameters with their ranges. Adding a fault is one
// entry here plus its effect where it applies (rest_api/http_connection for requests,
// websocket_link for links). The queue of pending faults lives in the cloud.
#ifndef ATOMCLOUD_EMULATOR_SRC_FAULTS_HPP
#define ATOMCLOUD_EMULATOR_SRC_FAULTS_HPP

#include "reply.hpp"

#include <atomcloud/emulator/server.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace atomcloud::emulator::detail {

/// Where a fault acts.
enum class fault_site {
    reply,     ///< replaces the reply to a REST request
    transport, ///< acts on the connection of a REST request
    websocket, ///< acts on a WebSocket link
};

/// The event that uses up one count of a fault.
enum class fault_trigger {
    api_request,     ///< a request under /api/
    websocket_frame, ///< a frame the cloud sends to an application
    websocket_ping,  ///< a ping an application sends
};

/// A parameter: its control-API name, its range (integers) and how it maps onto `fault`.
struct fault_param {
    std::string_view name;
    bool is_text = false; ///< a string (message); otherwise an integer in [lo, hi]
    std::int64_t lo = 0;
    std::int64_t hi = 0;
    std::int64_t (*get)(const fault&) = nullptr;
    void (*set)(fault&, std::int64_t) = nullptr;
    /// "an integer from 200 to 599", "a string".
    std::string rule() const;
};

struct fault_spec {
    fault::kind kind;
    std::string_view name;
    fault_site site;
    fault_trigger trigger;
    std::span<const fault_param* const> params;
};

/// Every fault kind, one entry each.
std::span<const fault_spec> fault_table() noexcept;
/// The entry of `k` (every kind has one).
const fault_spec& spec_of(fault::kind k) noexcept;
/// The entry named `name`; nullptr when there is none.
const fault_spec* find_fault(std::string_view name) noexcept;

/// Checks the parameters `f`'s kind reads; the problem, or empty when valid.
std::string check_fault(const fault& f);
/// A fault from a control-API body {"kind": ..., <its parameters>}: members the kind does
/// not read are refused. Sets `problem` and returns std::nullopt when invalid.
std::optional<fault> fault_from_json(const json& body, std::string& problem);
/// {"kind": ..., <its parameters>}.
json fault_to_json(const fault& f);

/// The reply of a fault that answers in place of the cloud (fault_site::reply).
http_reply fault_reply(const fault& f);

/// Pending faults, in injection order, each for a number of events.
class fault_queue {
public:
    void push(const fault& f, std::size_t count);
    /// The oldest pending fault for `t`, if any (uses up one of its counts).
    std::optional<fault> take(fault_trigger t);
    void clear() noexcept { pending_.clear(); }
    /// Counts still pending, over all triggers.
    std::size_t size() const noexcept;
    /// [{kind, count, <parameters>}] in injection order.
    json to_json() const;

private:
    struct entry {
        fault f;
        std::size_t remaining;
    };
    std::deque<entry> pending_;
};

} // namespace atomcloud::emulator::detail

#endif
