// Presence: which devices are online, kept current.
//
//   atomcloud::presence online(api, s, org_id, {.groups = {45}, .on_change = [](auto& c) {
//       std::cout << c.number << ": " << to_string(c.old_state) << " -> "
//                 << to_string(c.new_state) << '\n';
//   }});
//   co_await online.async_seed();                    // REST: devices of the groups, states
//   for (;;)
//       for (const auto& ev : co_await s.async_receive())
//           online.on_event(ev);                     // 0x04 / 0x05; re-seeds on reconnect
//
// Seeded from the REST API (the devices of the chosen groups and each one's state), then
// kept current from the session's device_connected / device_disconnected events, and
// seeded again after every session_connected: what changed while the link was down is
// corrected (and reported) then. The application's receive loop feeds the events (the
// session has one receiver, and the application keeps it); on_event never consumes one.
//
// Thread safety: not thread-safe; use on the session's executor only. The REST client and
// the session must outlive the presence object and use the same (single-threaded)
// executor.
#ifndef ATOMCLOUD_PRESENCE_HPP
#define ATOMCLOUD_PRESENCE_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/events.hpp>
#include <atomcloud/models.hpp>
#include <atomcloud/rest_client.hpp>
#include <atomcloud/session.hpp>
#include <atomcloud/with_diagnostics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atomcloud {

/// What the registry knows of one device.
struct device_presence {
    device info;               ///< as the REST API listed it (id, number, name, type)
    std::int64_t group_id = 0; ///< the group it was listed in
    /// connection_state::unknown until its state was read.
    device_state state;
    /// When the registry learnt this state (a seed's answer, or the event).
    std::chrono::system_clock::time_point since{};

    bool online() const noexcept { return state.online(); }
};

/// Where a change was learnt.
enum class presence_source {
    seed,         ///< the REST API (the first seed, or a re-seed after a reconnect)
    device_event, ///< a device_connected / device_disconnected event
};

/// "seed" or "device_event".
ATOMCLOUD_DECL const char* to_string(presence_source s) noexcept;

/// A device's state changed (also: its first state became known).
struct presence_change {
    std::string number; ///< device_presence::info.number
    device_state old_state;
    device_state new_state;
    std::chrono::system_clock::time_point when;
    presence_source source = presence_source::seed;
};

/// The socket-free state of a presence object: the devices, and how seeds and events
/// change them. A seed answers for the moment its requests were made: a device whose
/// event arrived after the seed began keeps the event's state.
class presence_registry {
public:
    /// A seed starts (its requests are about to be made).
    ATOMCLOUD_DECL void begin_seed();
    /// The seed's answer: the devices (in this order) with their states. Devices no longer
    /// listed are forgotten (without a change). Returns the changes, in that order.
    ATOMCLOUD_DECL std::vector<presence_change> apply_seed(std::vector<device_presence> devices);
    /// The seed failed: nothing changes.
    ATOMCLOUD_DECL void cancel_seed() noexcept;
    /// device_connected / device_disconnected of a known device: the change, if any.
    /// Other events and unknown devices: nullopt.
    ATOMCLOUD_DECL std::optional<presence_change> apply(const event& ev,
                                                        std::chrono::system_clock::time_point now);

    /// The device with this number, if known.
    ATOMCLOUD_DECL const device_presence* find(std::string_view number) const noexcept;
    /// Every device, in the order of the last seed.
    const std::vector<device_presence>& devices() const noexcept { return devices_; }
    /// Whether a seed was applied.
    bool seeded() const noexcept { return seeded_; }

private:
    std::vector<device_presence> devices_;
    std::map<std::string, std::size_t, std::less<>> index_;
    // States from events since begin_seed (also of devices not known yet): newer than
    // what the seed's answers say.
    std::map<std::string, std::pair<device_state, std::chrono::system_clock::time_point>,
             std::less<>>
        touched_;
    bool seeding_ = false;
    bool seeded_ = false;
};

/// Options of a presence object (plain values with defaults).
struct presence_options {
    /// Groups whose devices are tracked; empty: every group of the organisation.
    std::vector<std::int64_t> groups;
    /// Subscribe the session to the DTU / WIFI devices found (0x04 / 0x05 reach only
    /// subscribed sessions); before their states are read, so no change falls between.
    bool subscribe = true;
    /// Called for every change (on the executor: from on_event, or when a seed ends).
    std::function<void(const presence_change&)> on_change;
    /// Called when a seed ends, with its outcome (a failed seed changes nothing).
    std::function<void(error_code)> on_seeded;
};

namespace detail {
class presence_impl;
using seed_handler = boost::asio::any_completion_handler<void(error_code)>;
ATOMCLOUD_DECL std::shared_ptr<presence_impl>
make_presence_impl(rest_client& api, session& s, std::int64_t org_id, presence_options opts);
ATOMCLOUD_DECL void presence_shutdown(presence_impl& impl) noexcept;
ATOMCLOUD_DECL void presence_on_event(presence_impl& impl, const event& ev);
ATOMCLOUD_DECL const presence_registry& presence_get_registry(const presence_impl& impl) noexcept;
ATOMCLOUD_DECL void presence_seed(const std::shared_ptr<presence_impl>& impl, seed_handler h);

struct initiate_seed {
    std::shared_ptr<presence_impl> impl;
    boost::asio::any_io_executor ex;
    using executor_type = boost::asio::any_io_executor;
    executor_type get_executor() const noexcept { return ex; }
    template <class Handler>
    void operator()(Handler&& h) const {
        presence_seed(impl, seed_handler(std::forward<Handler>(h)));
    }
};
} // namespace detail

/// A registry of the devices of some groups and whether they are online, kept current.
/// See the file comment.
class presence {
public:
    /// Tracks the devices of `opts.groups` of organisation `org_id`; does nothing before
    /// async_seed() or the first session_connected fed to on_event().
    presence(rest_client& api, session& s, std::int64_t org_id, presence_options opts = {})
        : ex_(s.get_executor()),
          impl_(detail::make_presence_impl(api, s, org_id, std::move(opts))) {}
    /// A seed in progress is abandoned (async_seed completes with operation_aborted).
    ~presence() {
        if (impl_)
            detail::presence_shutdown(*impl_);
    }
    presence(const presence&) = delete;
    presence& operator=(const presence&) = delete;

    /// Seeds the registry: lists the groups' devices, subscribes the session to them (see
    /// presence_options::subscribe), reads every state. If a seed is in progress, another
    /// follows it and this completes when that one ends. Completes with the REST error
    /// (and the registry unchanged) or success. Cancellation: none (it ends on its own
    /// within the REST client's timeouts). Signature: void(error_code).
    template <class CompletionToken = default_completion_token_t>
    auto async_seed(CompletionToken&& token = CompletionToken{}) {
        return detail::initiate_operation<void(error_code)>(detail::initiate_seed{impl_, ex_},
                                                            std::forward<CompletionToken>(token));
    }

    /// Feed every event the session delivers, in order: device_connected /
    /// device_disconnected update the registry (on_change is called before this returns);
    /// session_connected starts a re-seed in the background (its outcome: on_seeded).
    /// Never consumes the event: the application handles it as usual.
    void on_event(const event& ev) { detail::presence_on_event(*impl_, ev); }

    /// The device with this number, if tracked.
    std::optional<device_presence> find(std::string_view number) const {
        const auto* d = registry().find(number);
        return d ? std::optional<device_presence>(*d) : std::nullopt;
    }
    /// Every tracked device, in group order and then the API's order.
    const std::vector<device_presence>& devices() const noexcept { return registry().devices(); }
    /// The registry itself.
    const presence_registry& registry() const noexcept {
        return detail::presence_get_registry(*impl_);
    }

private:
    boost::asio::any_io_executor ex_;
    std::shared_ptr<detail::presence_impl> impl_;
};

} // namespace atomcloud

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/presence.ipp>
#endif

#endif
