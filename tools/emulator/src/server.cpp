// The public facade: server and device_handle forward to the implementation on the
// server's thread (server_impl.hpp); nothing here does I/O itself.
#include "server_impl.hpp"

#include <atomcloud/emulator/server.hpp>

namespace atomcloud::emulator {

// ---- server ----------------------------------------------------------------------------

server::server(options opts) : impl_(std::make_shared<impl>(std::move(opts))) {
    impl_->start();
}

server::~server() {
    try {
        stop();
    } catch (...) {
    }
}

void server::stop() {
    impl_->shutdown();
}

std::uint16_t server::port() const {
    return impl_->endpoint.port();
}
std::string server::base_url() const {
    return impl_->url;
}
const std::string& server::token() const {
    return impl_->opts.token;
}
const std::string& server::ca_pem() const {
    return impl_->ca;
}

atomcloud::config server::client_config() const {
    atomcloud::config cfg;
    cfg.base_url = impl_->url;
    cfg.token = impl_->opts.token;
    cfg.tls.ca_pem = impl_->ca;
    return cfg;
}

device_handle server::device(std::string_view number) {
    const auto index = impl_->device_index(number);
    const auto& d = impl_->core->devices().devices[index];
    return device_handle(impl_, d.number, index, d.kind == detail::device_kind::nbiot);
}

std::vector<std::string> server::device_numbers() const {
    std::vector<std::string> out;
    for (const auto& d : impl_->core->devices().devices)
        out.push_back(d.number);
    return out;
}

void server::drop_connections() {
    drop_connections(std::chrono::milliseconds(0));
}

void server::drop_connections(std::chrono::milliseconds refuse_for) {
    if (refuse_for.count() < 0)
        throw std::invalid_argument(
            "atomcloud::emulator: drop_connections: refuse_for must not be negative");
    impl_->call([i = impl_.get(), refuse_for] { i->drop_websockets(refuse_for); });
}

void server::suspend() {
    impl_->call([i = impl_.get()] { i->suspend_now(); });
}

void server::resume() {
    impl_->call([i = impl_.get()] { i->resume_now(); });
}

void server::restart() {
    impl_->call([i = impl_.get()] { i->restart_now(); });
}

void server::inject_fault(const fault& f, std::size_t count) {
    if (auto problem = detail::check_fault(f); !problem.empty())
        throw std::invalid_argument("atomcloud::emulator: fault " + problem);
    impl_->call([i = impl_.get(), &f, count] { i->core->inject_fault(f, count); });
}

void server::clear_faults() {
    impl_->call([i = impl_.get()] { i->core->clear_faults(); });
}

std::size_t server::websocket_connections() const {
    return impl_->call([i = impl_.get()] { return i->core->websocket_sessions(); });
}

std::size_t server::subscribers(std::string_view number) const {
    const auto index = impl_->device_index(number);
    return impl_->call([i = impl_.get(), index] { return i->core->subscribers(index); });
}

server_status server::status() const {
    return impl_->call([i = impl_.get()] {
        server_status s;
        s.connections = i->core->open_connections;
        s.tls_handshakes = i->handshaking.size();
        s.websocket_connections = i->core->websocket_sessions();
        s.subscriptions = i->core->subscriptions();
        s.pending_faults = i->core->pending_faults();
        s.listening = i->core->listening;
        s.websocket_refusing = i->core->refusing_websockets();
        return s;
    });
}

bool server::wait_websocket_connections(std::size_t count,
                                        std::chrono::milliseconds timeout) const {
    return impl_->wait_until(
        [i = impl_.get(), count] { return i->core->websocket_sessions() == count; }, timeout);
}

bool server::wait_subscribers(std::string_view number, std::size_t count,
                              std::chrono::milliseconds timeout) const {
    const auto index = impl_->device_index(number);
    return impl_->wait_until(
        [i = impl_.get(), index, count] { return i->core->subscribers(index) == count; }, timeout);
}

// ---- device_handle ---------------------------------------------------------------------

struct device_handle::impl_access {
    static server::impl& get(const device_handle& h) {
        return *static_cast<server::impl*>(h.state_.get());
    }
};

void device_handle::connect() {
    auto& s = impl_access::get(*this);
    s.call([&s, i = index_] { s.core->connect_device(i); });
}

void device_handle::disconnect() {
    auto& s = impl_access::get(*this);
    s.call([&s, i = index_] { s.core->disconnect_device(i); });
}

bool device_handle::connected() const {
    auto& s = impl_access::get(*this);
    return s.call([&s, i = index_] { return s.core->connected(i); });
}

std::string device_handle::state() const {
    auto& s = impl_access::get(*this);
    return s.call([&s, i = index_] { return s.core->state_text(i); });
}

void device_handle::send(atomcloud::bytes_view payload) {
    auto& s = impl_access::get(*this);
    s.call([&s, i = index_, payload] { s.core->device_send(i, payload); });
}

std::vector<atomcloud::bytes> device_handle::received() const {
    auto& s = impl_access::get(*this);
    std::vector<atomcloud::bytes> out;
    for (auto& m : s.core->received(index_))
        out.push_back(std::move(m.payload));
    return out;
}

std::vector<received_message> device_handle::received_messages() const {
    return impl_access::get(*this).core->received(index_);
}

bool device_handle::wait_received(std::size_t count, std::chrono::milliseconds timeout) const {
    return impl_access::get(*this).core->wait_received(index_, count, timeout);
}

void device_handle::clear_received() {
    impl_access::get(*this).core->clear_received(index_);
}

std::vector<sent_message> device_handle::sent() const {
    return impl_access::get(*this).core->sent(index_);
}

std::size_t device_handle::sent_count() const {
    return impl_access::get(*this).core->sent_count(index_);
}

std::size_t device_handle::sent_dropped() const {
    return impl_access::get(*this).core->sent_dropped(index_);
}

void device_handle::clear_sent() {
    impl_access::get(*this).core->clear_sent(index_);
}

std::size_t device_handle::history_size() const {
    auto& s = impl_access::get(*this);
    return s.call([&s, i = index_] { return s.core->history_size(i); });
}

} // namespace atomcloud::emulator
