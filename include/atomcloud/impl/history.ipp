#ifndef ATOMCLOUD_IMPL_HISTORY_IPP
#define ATOMCLOUD_IMPL_HISTORY_IPP

#include <atomcloud/detail/history_cursor.hpp>
#include <atomcloud/detail/rest_engine.hpp>
#include <atomcloud/detail/run_sync.hpp>
#include <atomcloud/detail/stored_handler.hpp>
#include <atomcloud/history.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>

#include <variant>

namespace atomcloud::detail {

struct history_walk_state {
    history_walk_state(std::shared_ptr<rest_client_impl> c, std::int64_t org, std::string n,
                       history_walk_options opts)
        : client(std::move(c)), org_id(org), number(std::move(n)), cursor(std::move(opts)) {}

    std::shared_ptr<rest_client_impl> client;
    std::int64_t org_id;
    std::string number;
    history_cursor cursor;
    bool busy = false;
};

ATOMCLOUD_DECL std::shared_ptr<history_walk_state> make_history_walk(const rest_client& client,
                                                                     std::int64_t org_id,
                                                                     const history_device& device,
                                                                     history_walk_options opts) {
    return std::make_shared<history_walk_state>(
        rest_access::impl(client), org_id,
        std::visit([](const auto& d) { return d.str(); }, device), std::move(opts));
}

ATOMCLOUD_DECL bool history_walk_done(const history_walk_state& st) noexcept {
    return st.cursor.done();
}

// Requests pages until a batch is ready (or, for a whole walk, until the end).
class history_walk_op : public std::enable_shared_from_this<history_walk_op> {
public:
    history_walk_op(std::shared_ptr<history_walk_state> st, bool first_batch, diagnostics* diag,
                    history_handler h)
        : st_(std::move(st)), first_batch_(first_batch), user_diag_(diag),
          handler_(std::move(h), rest_executor(*st_->client)) {}

    void start() {
        boost::asio::post(rest_executor(*st_->client), [self = shared_from_this()] {
            if (self->st_->busy) {
                // Another batch of this walk is in flight: refuse, leaving it alone.
                self->owns_walk_ = false;
                return self->finish(boost::asio::error::in_progress);
            }
            self->st_->busy = true;
            self->step();
        });
    }

private:
    void step() {
        if (st_->cursor.done())
            return finish({});
        auto slot = handler_.slot();
        rest_call<rest_op::packets>::start(
            *st_->client, {st_->org_id, st_->number, st_->cursor.next_query()}, &diag_,
            rest_handler<packet_page>(boost::asio::bind_cancellation_slot(
                slot, [self = shared_from_this()](error_code ec, packet_page page) {
                    self->on_page(ec, std::move(page));
                })));
    }

    void on_page(error_code ec, packet_page page) {
        if (ec)
            return finish(ec);
        st_->cursor.feed(std::move(page), out_, ec);
        if (ec) {
            diag_.clear();
            diag_.set_client_message("the history walk stopped after " +
                                     std::to_string(st_->cursor.pages()) +
                                     " pages (history_walk_options::max_pages)");
            return finish(ec);
        }
        if (st_->cursor.done() || (first_batch_ && !out_.empty()))
            return finish({});
        step();
    }

    void finish(error_code ec) {
        if (owns_walk_)
            st_->busy = false;
        if (user_diag_)
            *user_diag_ = diag_;
        handler_.post(rest_executor(*st_->client), ec, std::move(out_));
    }

    std::shared_ptr<history_walk_state> st_;
    bool first_batch_;
    bool owns_walk_ = true;
    diagnostics* user_diag_;
    stored_handler<void(error_code, std::vector<packet>)> handler_;
    std::vector<packet> out_;
    diagnostics diag_;
};

ATOMCLOUD_DECL void history_walk_run(std::shared_ptr<history_walk_state> st,
                                     bool stop_at_first_batch, diagnostics* diag,
                                     history_handler h) {
    std::make_shared<history_walk_op>(std::move(st), stop_at_first_batch, diag, std::move(h))
        ->start();
}

ATOMCLOUD_DECL std::vector<packet> history_walk_sync(const boost::asio::any_io_executor& ex,
                                                     std::shared_ptr<history_walk_state> st,
                                                     bool stop_at_first_batch, error_code& ec,
                                                     diagnostics& diag) {
    return run_sync<std::vector<packet>>(ex, ec, [&](history_handler h) {
        history_walk_run(std::move(st), stop_at_first_batch, &diag, std::move(h));
    });
}

} // namespace atomcloud::detail

#endif
