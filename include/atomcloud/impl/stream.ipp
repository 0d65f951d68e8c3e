#ifndef ATOMCLOUD_IMPL_STREAM_IPP
#define ATOMCLOUD_IMPL_STREAM_IPP

// The stream's driver: it runs a session and history walks and carries out what each
// device's machine (detail/stream_sync.hpp) decides. It makes no decision of its own
// beyond scheduling: which device's history is read when (pacing), and when to retry.

#include <atomcloud/detail/backoff.hpp>
#include <atomcloud/detail/rest_protocol.hpp>
#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/detail/stream_sync.hpp>
#include <atomcloud/history.hpp>
#include <atomcloud/logger.hpp>
#include <atomcloud/rest_client.hpp>
#include <atomcloud/session.hpp>
#include <atomcloud/stream.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <random>
#include <type_traits>
#include <unordered_set>

namespace atomcloud {

struct detail_stream_batch_access {
    static std::vector<stream_event>& events(stream_batch& b) { return b.events_; }
    static std::vector<stream_cursor>& cursors(stream_batch& b) { return b.cursors_; }
    static std::vector<std::shared_ptr<const void>>& storage(stream_batch& b) { return b.storage_; }
};

ATOMCLOUD_DECL const char* to_string(message_origin o) noexcept {
    return o == message_origin::live ? "live" : "backfill";
}

ATOMCLOUD_DECL const char* to_string(gap_reason r) noexcept {
    switch (r) {
    case gap_reason::retention:
        return "retention";
    case gap_reason::too_many_pages:
        return "too_many_pages";
    case gap_reason::held_overflow:
        return "held_overflow";
    case gap_reason::history_error:
        return "history_error";
    case gap_reason::ambiguous_overlap:
        return "ambiguous_overlap";
    case gap_reason::history_mismatch:
        return "history_mismatch";
    }
    return "unknown";
}

namespace detail {

// 16 lower-case hex digits.
inline void cursor_append_hex(std::string& out, std::uint64_t v) {
    char buf[16];
    auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
    out.append(static_cast<std::size_t>(16 - (r.ptr - buf)), '0');
    out.append(buf, r.ptr);
}

template <class Int>
inline bool cursor_parse_int(std::string_view s, Int& out, int base = 10) {
    if (s.empty())
        return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

inline std::vector<std::string_view> cursor_split(std::string_view s) {
    std::vector<std::string_view> parts;
    std::size_t i = 0;
    while (i <= s.size()) {
        std::size_t j = s.find(' ', i);
        if (j == std::string_view::npos)
            j = s.size();
        parts.push_back(s.substr(i, j - i));
        i = j + 1;
    }
    return parts;
}

inline std::optional<packet_time> cursor_parse_time(std::string_view s, bool& ok) {
    if (s == "-")
        return std::nullopt;
    std::int64_t us = 0;
    if (!cursor_parse_int(s, us)) {
        ok = false;
        return std::nullopt;
    }
    return packet_time(std::chrono::microseconds(us));
}

inline void cursor_append_time(std::string& out, const std::optional<packet_time>& t) {
    if (t)
        out += std::to_string(t->time_since_epoch().count());
    else
        out += '-';
}

} // namespace detail

ATOMCLOUD_DECL std::string stream_cursor::to_string() const {
    std::string out = "v1 ";
    out += std::holds_alternative<device_number>(device) ? 'd' : 'n';
    out += ' ';
    // The id's bytes in hex, without spaces (ids may contain any printable character).
    for (char c : to_hex_packet(as_bytes(device_text(device))))
        if (c != ' ')
            out += c;
    out += ' ';
    detail::cursor_append_time(out, anchor_time);
    out += ' ';
    detail::cursor_append_hex(out, anchor_hash);
    out += ' ';
    out += std::to_string(anchor_rank);
    out += ' ';
    out += std::to_string(after);
    out += ' ';
    detail::cursor_append_hex(out, last_hash);
    out += ' ';
    detail::cursor_append_time(out, since);
    return out;
}

ATOMCLOUD_DECL std::optional<stream_cursor> stream_cursor::parse(std::string_view text) {
    const auto parts = detail::cursor_split(text);
    if (parts.size() != 9 || parts[0] != "v1" || (parts[1] != "d" && parts[1] != "n"))
        return std::nullopt;
    error_code ec;
    const bytes raw = parse_hex_packet(parts[2], ec);
    if (ec || raw.empty())
        return std::nullopt;
    const std::string id(raw.begin(), raw.end());
    std::optional<stream_cursor> parsed;
    if (parts[1] == "d") {
        if (auto d = device_number::parse(id))
            parsed.emplace(stream_cursor{*d});
    } else if (auto n = nbiot_id::parse(id)) {
        parsed.emplace(stream_cursor{*n});
    }
    if (!parsed)
        return std::nullopt;
    stream_cursor& c = *parsed;
    bool ok = true;
    c.anchor_time = detail::cursor_parse_time(parts[3], ok);
    c.since = detail::cursor_parse_time(parts[8], ok);
    if (!ok || parts[4].size() != 16 || parts[7].size() != 16 ||
        !detail::cursor_parse_int(parts[4], c.anchor_hash, 16) ||
        !detail::cursor_parse_int(parts[5], c.anchor_rank) ||
        !detail::cursor_parse_int(parts[6], c.after) ||
        !detail::cursor_parse_int(parts[7], c.last_hash, 16))
        return std::nullopt;
    if (!c.anchor_time && (c.anchor_hash != 0 || c.anchor_rank != 0))
        return std::nullopt;
    return parsed;
}

ATOMCLOUD_DECL std::string to_string(const stream_event& ev) {
    return std::visit(
        [](const auto& e) -> std::string {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, stream_message>)
                return "message " + std::string(device_text(e.device)) + " " + to_string(e.origin) +
                       " (" + std::to_string(e.payload.size()) + " bytes)";
            else if constexpr (std::is_same_v<T, stream_gap>)
                return "gap " + std::string(device_text(e.device)) + " " + to_string(e.reason);
            else // the session's own events, described as the session does
                return atomcloud::to_string(event(e));
        },
        ev);
}

namespace detail {

// A device's key in the stream: "d" or "n" and the device's text, in a buffer of the
// caller's (no allocation on the receive path).
inline std::string_view stream_key(char kind, std::string_view id, char (&buf)[64]) noexcept {
    buf[0] = kind;
    const std::size_t n = std::min(id.size(), sizeof buf - 1);
    std::copy_n(id.data(), n, buf + 1);
    return {buf, n + 1};
}

inline std::string stream_device_key(const stream_device& d) {
    char buf[64];
    return std::string(
        stream_key(std::holds_alternative<device_number>(d) ? 'd' : 'n', device_text(d), buf));
}

inline bool permanent_history_error(const error_code& ec, const diagnostics& diag) {
    if (ec == client_errc::too_many_pages)
        return false;
    if (ec == api_errc::not_logged_in || ec == api_errc::insufficient_permission ||
        ec == api_errc::account_locked || ec == api_errc::not_found ||
        ec == api_errc::invalid_parameter || ec == client_errc::certificate_rejected ||
        ec == client_errc::invalid_config || ec == client_errc::invalid_base_url)
        return true;
    if (ec == client_errc::http_status)
        return diag.http_status() >= 400 && diag.http_status() < 500 && diag.http_status() != 408 &&
               diag.http_status() != 429;
    return false;
}

class stream_impl : public std::enable_shared_from_this<stream_impl> {
public:
    stream_impl(boost::asio::any_io_executor ex, const config& cfg, std::int64_t org_id,
                stream_options opts)
        : ex_(ex), log_(cfg.log), org_(org_id), opts_(std::move(opts)), session_(ex, cfg, org_id),
          rest_(ex, cfg), clock_(opts_.clock_tolerance, opts_.min_clock_tolerance), timer_(ex) {
        lim_.settle_messages = opts_.settle_messages;
        lim_.settle_time = opts_.settle_time;
        lim_.retention = opts_.retention;
        max_pending_events_ = std::max<std::size_t>(cfg.session.max_pending_events, 1);
        max_pending_bytes_ = std::max<std::size_t>(cfg.session.max_pending_bytes, 1);
        opts_.page_size = std::clamp<std::uint32_t>(opts_.page_size, 1, 1000);
        opts_.max_concurrent_backfills = std::max<std::size_t>(opts_.max_concurrent_backfills, 1);
    }

    // --- devices ---

    void add(const stream_cursor& start) {
        const std::string key = stream_device_key(start.device);
        if (devices_.count(key))
            return;
        stream_cursor c = start;
        if (!c.anchor_time && !c.since) {
            const sys_time from =
                opts_.since ? *opts_.since
                            // "Now" in the cloud's time, early by the clock's uncertainty: a clock
                            // ahead of the cloud's must not make the first live messages look older
                            // than the start.
                            : std::chrono::system_clock::now() -
                                  std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                      clock_.offset() + clock_.tolerance(true));
            c.since = to_packet_time(from);
            c.after = 0;
        }
        auto e = std::make_unique<entry>(c, opts_.retry, seed_++);
        e->key = key;
        entry& ref = *e;
        devices_.emplace(key, std::move(e));
        if (auto* n = std::get_if<device_number>(&start.device))
            session_.async_subscribe(*n, [](error_code) {});
        if (link_up_)
            reset(ref, link_change::up, now());
        arm_timer();
    }

    void remove(const stream_device& d) {
        auto it = devices_.find(stream_device_key(d));
        if (it == devices_.end())
            return;
        if (auto* n = std::get_if<device_number>(&d))
            session_.async_unsubscribe(*n, [](error_code) {});
        reset(*it->second, link_change::none, now()); // the walk in flight is cancelled
        fetch_queue_.erase(std::remove(fetch_queue_.begin(), fetch_queue_.end(), it->first),
                           fetch_queue_.end());
        dirty_.erase(it->second.get());
        waiting_.erase(it->second.get());
        devices_.erase(it);
    }

    std::optional<stream_cursor> cursor(const stream_device& d) const {
        auto it = devices_.find(stream_device_key(d));
        if (it == devices_.end())
            return std::nullopt;
        return it->second->committed;
    }

    stream_status status() const noexcept {
        stream_status s = counters_;
        s.devices = devices_.size();
        s.held_messages = held_count_;
        s.held_bytes = held_bytes_;
        s.pending_events = out_.size();
        s.pending_bytes = out_bytes_;
        s.reading_paused = running_ && !reading_ && !receive_loop_done_;
        return s;
    }

    // --- run, stop, receive ---

    void run(diagnostics* diag, stream_run_handler h) {
        stored_handler<void(error_code)> op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted);
        if (run_)
            return op.post(ex_, boost::asio::error::already_started);
        run_ = std::move(op);
        running_ = true;
        finished_ = false;
        cancelled_ = false;
        stopped_ = false;
        session_done_ = false;
        receive_loop_done_ = false;
        auto me = shared_from_this();
        if (diag)
            session_.async_run(*diag, [me](error_code ec) { me->on_session_done(ec); });
        else
            session_.async_run([me](error_code ec) { me->on_session_done(ec); });
        receive_next();
        arm_timer();
        auto slot = run_.slot();
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), ex = ex_](boost::asio::cancellation_type) {
                boost::asio::post(ex, [w] {
                    if (auto self = w.lock())
                        self->cancel_run();
                });
            });
        }
    }

    void stop() {
        if (shut_down_)
            return;
        stopped_ = true;
        session_.stop();
        if (!running_ && !run_) { // never run, or already over: receive ends too
            finished_ = true;
            deliver();
        }
    }

    void receive(stream_receive_handler h) {
        stored_handler<void(error_code, stream_batch)> op(std::move(h), ex_);
        if (shut_down_)
            return op.post(ex_, boost::asio::error::operation_aborted, stream_batch());
        if (receive_)
            return op.post(ex_, boost::asio::error::already_started, stream_batch());
        receive_ = std::move(op);
        const std::uint64_t id = ++receive_id_;
        if (deliver())
            return;
        auto slot = receive_.slot();
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), ex = ex_, id](boost::asio::cancellation_type) {
                boost::asio::post(ex, [w, id] {
                    auto self = w.lock();
                    if (self && self->receive_ && self->receive_id_ == id)
                        self->receive_.post(self->ex_, boost::asio::error::operation_aborted,
                                            stream_batch());
                });
            });
        }
    }

    void shutdown() noexcept {
        if (shut_down_)
            return;
        shut_down_ = true;
        try {
            timer_.cancel();
            for (auto& [k, e] : devices_)
                if (e->in_flight && e->cancel)
                    e->cancel->emit(boost::asio::cancellation_type::terminal);
            {
                session gone(std::move(session_)); // aborts its operations now
            }
            const error_code aborted = boost::asio::error::operation_aborted;
            if (receive_)
                receive_.post(ex_, aborted, stream_batch());
            if (run_)
                run_.post(ex_, aborted);
        } catch (...) {
            // Only allocation can fail here; nothing sensible is left to do.
        }
    }

private:
    struct entry {
        entry(const stream_cursor& c, const backoff_options& retry, std::uint64_t seed)
            : sync(c), committed(c), backoff(retry, seed) {}
        std::string key;
        device_sync sync;
        stream_cursor committed; ///< as of the last batch handed over
        std::uint64_t generation = 0;
        bool in_flight = false;
        bool queued = false;
        std::optional<sys_time> retry_at;
        detail::backoff backoff;
        /// Cancels the history walk in flight.
        std::shared_ptr<boost::asio::cancellation_signal> cancel;
    };

    // Everything about a device's backfill is abandoned: the walk in flight (cancelled, its
    // result ignored), the queue, the retry and the held messages; then the link's state.
    enum class link_change { none, up, down };
    void reset(entry& e, link_change to, sys_time t) {
        ++e.generation;
        if (e.in_flight) {
            e.in_flight = false;
            --in_flight_;
            if (e.cancel)
                e.cancel->emit(boost::asio::cancellation_type::terminal);
        }
        e.queued = false;
        e.retry_at.reset();
        held_count_ -= e.sync.held().size();
        held_bytes_ -= e.sync.held_bytes();
        waiting_.erase(&e);
        if (to == link_change::up) {
            e.sync.link_up(t);
            waiting_.insert(&e);
        } else if (to == link_change::down) {
            e.sync.link_down();
        } else {
            e.sync.clear_held();
        }
    }

    static sys_time now() { return std::chrono::system_clock::now(); }

    void cancel_run() {
        if (!run_)
            return;
        cancelled_ = true;
        stopped_ = true;
        session_.stop();
        session_.stop(); // a second stop closes at once
    }

    void receive_next() {
        if (shut_down_ || reading_ || receive_loop_done_)
            return;
        reading_ = true;
        auto self = shared_from_this();
        session_.async_receive(
            [self](error_code ec, event_batch batch) { self->on_batch(ec, std::move(batch)); });
    }

    void on_session_done(error_code ec) {
        if (shut_down_)
            return;
        session_done_ = true;
        run_result_ = cancelled_ ? error_code(boost::asio::error::operation_aborted) : ec;
        maybe_finish();
    }

    void maybe_finish() {
        if (!session_done_ || !receive_loop_done_ || !run_)
            return;
        running_ = false;
        finished_ = true;
        timer_.cancel();
        for (auto& [k, e] : devices_)
            reset(*e, link_change::down, now()); // walks in flight complete into nothing
        fetch_queue_.clear();
        link_up_ = false;
        run_.post(ex_, run_result_);
        if (receive_)
            deliver();
    }

    entry* find(std::string_view key) {
        auto it = devices_.find(key);
        return it == devices_.end() ? nullptr : it->second.get();
    }

    void add_storage(stream_batch& b, const std::shared_ptr<const void>& s) {
        auto& st = detail_stream_batch_access::storage(b);
        if (st.empty() || st.back() != s)
            st.push_back(s);
    }

    bool is_heartbeat_payload(bytes_view p) const {
        return opts_.skip_heartbeats && is_heartbeat(p, opts_.heartbeat);
    }

    void push_message(entry& e, bytes_view payload, message_origin origin,
                      std::optional<packet_time> cloud, sys_time received,
                      const std::shared_ptr<const void>& storage) {
        dirty_.insert(&e);
        if (origin == message_origin::live)
            ++counters_.live;
        else
            ++counters_.backfilled;
        if (is_heartbeat_payload(payload))
            return;
        detail_stream_batch_access::events(out_).emplace_back(
            stream_message{e.sync.device(), payload, origin, cloud, received});
        out_bytes_ += payload.size();
        add_storage(out_, storage);
    }

    // Backpressure: while the application has not taken this much, the session is not read
    // (it stops reading its socket in turn) and no backfill starts.
    bool over_limits() const noexcept {
        return out_.size() >= max_pending_events_ || out_bytes_ >= max_pending_bytes_;
    }

    void on_batch(error_code ec, event_batch batch) {
        reading_ = false;
        if (shut_down_)
            return;
        if (ec) {
            receive_loop_done_ = true;
            maybe_finish();
            return;
        }
        const sys_time t = now();
        auto storage = std::make_shared<event_batch>(std::move(batch));
        std::shared_ptr<const void> keep = storage;
        auto& events = detail_stream_batch_access::events(out_);
        for (const event& ev : *storage) {
            char buf[64];
            if (auto* m = std::get_if<device_message>(&ev)) {
                on_live(stream_key('d', m->device.view(), buf), m->payload, t, keep);
            } else if (auto* n = std::get_if<nbiot_message>(&ev)) {
                on_live(stream_key('n', n->device.view(), buf), n->payload, t, keep);
            } else if (std::holds_alternative<session_connected>(ev)) {
                if (links_++ > 0)
                    ++counters_.reconnects;
                link_up_ = true;
                for (auto& [k, e] : devices_)
                    reset(*e, link_change::up, t);
                fetch_queue_.clear();
                events.emplace_back(session_connected{});
            } else if (auto* d = std::get_if<session_disconnected>(&ev)) {
                link_up_ = false;
                for (auto& [k, e] : devices_)
                    reset(*e, link_change::down, t);
                fetch_queue_.clear();
                events.emplace_back(*d);
            } else if (auto* c = std::get_if<device_connected>(&ev)) {
                if (find(stream_key('d', c->device.view(), buf)))
                    events.emplace_back(*c);
            } else if (auto* dc = std::get_if<device_disconnected>(&ev)) {
                if (find(stream_key('d', dc->device.view(), buf)))
                    events.emplace_back(*dc);
            } else if (auto* pe = std::get_if<protocol_error>(&ev)) {
                events.emplace_back(*pe);
                add_storage(out_, keep);
            }
        }
        step(t);
        deliver();
        if (!over_limits())
            receive_next();
    }

    void on_live(std::string_view key, bytes_view payload, sys_time t,
                 const std::shared_ptr<const void>& keep) {
        entry* e = find(key);
        if (!e)
            return;
        if (e->sync.on_live(held_message{payload, payload_hash(payload), t, keep})) {
            push_message(*e, payload, message_origin::live, std::nullopt, t, keep);
        } else if (e->sync.state() != device_sync::phase::down) {
            ++held_count_;
            held_bytes_ += payload.size();
        }
    }

    // Scheduling: settled devices join the queue; the queue feeds the walks in flight.
    void step(sys_time t) {
        if (!running_ || shut_down_)
            return;
        if (!waiting_.empty()) {
            std::vector<entry*> ready;
            for (entry* e : waiting_)
                if (!e->queued && !e->in_flight &&
                    ((e->sync.state() == device_sync::phase::settling &&
                      e->sync.ready_to_fetch(t, lim_)) ||
                     (e->retry_at && *e->retry_at <= t)))
                    ready.push_back(e);
            // A deterministic order: by device.
            std::sort(ready.begin(), ready.end(),
                      [](const entry* a, const entry* b) { return a->key < b->key; });
            for (entry* e : ready) {
                e->retry_at.reset();
                e->queued = true;
                waiting_.erase(e);
                fetch_queue_.push_back(e->key);
            }
        }
        if (held_count_ > opts_.max_held_messages || held_bytes_ > opts_.max_held_bytes)
            enforce_held_limits();
        while (in_flight_ < opts_.max_concurrent_backfills && !fetch_queue_.empty() &&
               !over_limits()) {
            const std::string key = fetch_queue_.front();
            fetch_queue_.pop_front();
            entry* e = find(key);
            if (!e || !e->queued)
                continue;
            e->queued = false;
            start_fetch(key, *e, t);
        }
        arm_timer();
    }

    void enforce_held_limits() {
        while (held_count_ > opts_.max_held_messages || held_bytes_ > opts_.max_held_bytes) {
            entry* most = nullptr;
            for (auto& [k, e] : devices_)
                if (!most || e->sync.held().size() > most->sync.held().size())
                    most = e.get();
            if (!most || most->sync.held().empty())
                return;
            ++most->generation;
            if (most->in_flight) {
                most->in_flight = false;
                --in_flight_;
                if (most->cancel)
                    most->cancel->emit(boost::asio::cancellation_type::terminal);
            }
            most->queued = false;
            most->retry_at.reset();
            waiting_.erase(most);
            log(log_level::warning, "stream: live messages held for " +
                                        std::string(device_text(most->sync.device())) +
                                        " exceed the limits; its backfill is given up");
            emit(*most, most->sync.abandon(gap_reason::held_overflow, {}), nullptr, now());
        }
    }

    void start_fetch(const std::string& key, entry& e, sys_time t) {
        const sys_time from = e.sync.begin_fetch(t, clock_);
        history_walk_options ho;
        ho.start = from;
        ho.page_size = opts_.page_size;
        ho.max_pages = opts_.max_pages;
        ho.skip_heartbeats = false;
        e.in_flight = true;
        ++in_flight_;
        counters_.backfills_in_flight_peak =
            std::max(counters_.backfills_in_flight_peak, in_flight_);
        const std::uint64_t gen = e.generation;
        auto diag = std::make_shared<diagnostics>();
        e.cancel = std::make_shared<boost::asio::cancellation_signal>();
        auto self = shared_from_this();
        async_fetch_history(rest_, org_, e.sync.device(), std::move(ho), *diag,
                            boost::asio::bind_cancellation_slot(
                                e.cancel->slot(), [self, key, gen, diag, sig = e.cancel](
                                                      error_code ec, std::vector<packet> packets) {
                                    self->on_history(key, gen, ec, *diag, std::move(packets));
                                }));
    }

    void on_history(const std::string& key, std::uint64_t gen, error_code ec,
                    const diagnostics& diag, std::vector<packet> packets) {
        if (shut_down_)
            return;
        entry* e = find(key);
        if (!e || e->generation != gen || !e->in_flight)
            return;
        e->in_flight = false;
        --in_flight_;
        const sys_time t = now();
        const bool complete = ec != client_errc::too_many_pages;
        if (ec && complete) {
            ++counters_.history_requests_failed;
            if (permanent_history_error(ec, diag)) {
                log(log_level::error,
                    "stream: history of " + std::string(device_text(e->sync.device())) +
                        " unavailable: " + ec.message() + "; " + diag.to_string());
                emit(*e, e->sync.abandon(gap_reason::history_error, ec), nullptr, t);
            } else {
                const auto delay = e->backoff.next();
                log(log_level::warning, "stream: history of " +
                                            std::string(device_text(e->sync.device())) +
                                            " failed (" + ec.message() + "); retrying in " +
                                            std::to_string(delay.count()) + " ms");
                e->retry_at = t + delay;
                waiting_.insert(e);
            }
            step(t);
            deliver();
            return;
        }
        e->backoff.reset();
        ++counters_.backfills;
        std::reverse(packets.begin(), packets.end()); // oldest first
        std::vector<history_entry> h;
        h.reserve(packets.size());
        for (const packet& p : packets)
            h.push_back({p.time, payload_hash(p.payload)});
        auto owned = std::make_shared<std::vector<packet>>(std::move(packets));
        auto steps = e->sync.finish_fetch(h, complete, t, clock_, lim_);
        emit(*e, steps, owned, t);
        step(t);
        deliver();
    }

    void emit(entry& e, const std::vector<sync_step>& steps,
              const std::shared_ptr<std::vector<packet>>& history, sys_time t) {
        const auto& held = e.sync.held();
        std::shared_ptr<const void> hist = history;
        for (const sync_step& s : steps) {
            switch (s.what) {
            case sync_step::kind::backfill:
                push_message(e, (*history)[s.index].payload, message_origin::backfill, s.cloud_time,
                             t, hist);
                break;
            case sync_step::kind::held: {
                const held_message& hm = held[s.index];
                if (s.cloud_time)
                    ++counters_.duplicates;
                push_message(e, hm.payload, message_origin::live, s.cloud_time, hm.received,
                             hm.storage);
                // push_message counted it as live already
                break;
            }
            case sync_step::kind::gap: {
                ++counters_.gaps;
                dirty_.insert(&e);
                stream_gap g{e.sync.device(), s.from, s.to, s.reason, s.ec};
                log(log_level::warning, "stream: gap for " + std::string(device_text(g.device)) +
                                            ": " + to_string(g.reason));
                detail_stream_batch_access::events(out_).emplace_back(std::move(g));
                break;
            }
            }
        }
        held_count_ -= held.size();
        held_bytes_ -= e.sync.held_bytes();
        e.sync.clear_held();
    }

    // Hands the pending events over when the application waits for them.
    bool deliver() {
        if (!receive_)
            return false;
        auto& events = detail_stream_batch_access::events(out_);
        if (events.empty()) {
            if (!finished_)
                return false;
            receive_.post(ex_, client_errc::session_stopped, stream_batch());
            return true;
        }
        auto& cursors = detail_stream_batch_access::cursors(out_);
        for (entry* e : dirty_) {
            e->committed = e->sync.cursor();
            cursors.push_back(e->committed);
        }
        dirty_.clear();
        stream_batch b = std::move(out_);
        out_ = stream_batch();
        out_bytes_ = 0;
        receive_.post(ex_, error_code(), std::move(b));
        if (running_) {
            receive_next(); // if it was paused
            step(now());    // backfills that waited for room
        }
        return true;
    }

    void arm_timer() {
        if (!running_ || shut_down_ || timer_armed_)
            return;
        // Settle deadlines and retries are checked on a coarse tick while any is due.
        if (waiting_.empty())
            return;
        timer_armed_ = true;
        timer_.expires_after(std::chrono::milliseconds(50));
        timer_.async_wait([w = weak_from_this()](error_code ec) {
            auto self = w.lock();
            if (!self)
                return;
            self->timer_armed_ = false;
            if (ec || self->shut_down_)
                return;
            self->step(now());
            self->deliver();
        });
    }

    void log(log_level level, const std::string& text) const { log_.log(level, text); }

    boost::asio::any_io_executor ex_;
    logger log_;
    std::int64_t org_;
    stream_options opts_;
    sync_limits lim_;
    session session_;
    rest_client rest_;
    clock_model clock_;
    boost::asio::steady_timer timer_;
    bool timer_armed_ = false;

    std::map<std::string, std::unique_ptr<entry>, std::less<>> devices_;
    std::deque<std::string> fetch_queue_;
    std::size_t in_flight_ = 0;
    std::unordered_set<entry*> dirty_;
    std::unordered_set<entry*> waiting_; ///< settling, or waiting to retry
    std::size_t held_count_ = 0;
    std::size_t held_bytes_ = 0;
    std::uint64_t seed_ = std::random_device{}();

    stream_batch out_;
    std::size_t out_bytes_ = 0;
    std::size_t max_pending_events_;
    std::size_t max_pending_bytes_;
    bool reading_ = false; ///< a session receive is outstanding
    stream_status counters_;
    std::size_t links_ = 0;
    bool link_up_ = false;

    stored_handler<void(error_code)> run_;
    stored_handler<void(error_code, stream_batch)> receive_;
    std::uint64_t receive_id_ = 0;
    bool running_ = false;
    bool stopped_ = false;
    bool cancelled_ = false;
    bool session_done_ = false;
    bool finished_ = false;
    bool receive_loop_done_ = false;
    bool shut_down_ = false;
    error_code run_result_;
};

ATOMCLOUD_DECL std::shared_ptr<stream_impl> make_stream_impl(boost::asio::any_io_executor ex,
                                                             const config& cfg, std::int64_t org_id,
                                                             stream_options opts) {
    return std::make_shared<stream_impl>(std::move(ex), cfg, org_id, std::move(opts));
}
ATOMCLOUD_DECL void stream_shutdown(stream_impl& impl) noexcept {
    impl.shutdown();
}
ATOMCLOUD_DECL void stream_stop(stream_impl& impl) {
    impl.stop();
}
ATOMCLOUD_DECL void stream_add(stream_impl& impl, const stream_cursor& start) {
    impl.add(start);
}
ATOMCLOUD_DECL void stream_remove(stream_impl& impl, const stream_device& device) {
    impl.remove(device);
}
ATOMCLOUD_DECL std::optional<stream_cursor> stream_get_cursor(const stream_impl& impl,
                                                              const stream_device& device) {
    return impl.cursor(device);
}
ATOMCLOUD_DECL stream_status stream_get_status(const stream_impl& impl) noexcept {
    return impl.status();
}
ATOMCLOUD_DECL void stream_run(const std::shared_ptr<stream_impl>& impl, diagnostics* diag,
                               stream_run_handler h) {
    impl->run(diag, std::move(h));
}
ATOMCLOUD_DECL void stream_receive(const std::shared_ptr<stream_impl>& impl,
                                   stream_receive_handler h) {
    impl->receive(std::move(h));
}

} // namespace detail
} // namespace atomcloud

#endif
