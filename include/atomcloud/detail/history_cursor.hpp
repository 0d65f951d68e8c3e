// The history walk without sockets: which page to ask for next, and which packets of a
// page are new. Internal; unit-tested by feeding pages. See history.hpp for the
// guarantees it provides.
#ifndef ATOMCLOUD_DETAIL_HISTORY_CURSOR_HPP
#define ATOMCLOUD_DETAIL_HISTORY_CURSOR_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/models.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace atomcloud::detail {

class history_cursor {
public:
    ATOMCLOUD_DECL explicit history_cursor(history_walk_options opts);

    /// True when the walk is over (all pages seen, or an error).
    bool done() const noexcept { return done_; }
    /// Pages consumed so far.
    std::size_t pages() const noexcept { return pages_; }

    /// The query for the next page (only meaningful while !done()).
    ATOMCLOUD_DECL packet_query next_query() const;

    /// Consumes the page that answered next_query(): appends the packets not yielded
    /// before (in order, newest first; heartbeats left out if asked) to `out`, then
    /// decides whether the walk is over. Sets ec to client_errc::too_many_pages when
    /// another page would exceed max_pages.
    ATOMCLOUD_DECL void feed(packet_page page, std::vector<packet>& out, error_code& ec);

private:
    bool in_window(const packet& p) const noexcept;

    history_walk_options opts_;
    std::uint32_t limit_;
    std::uint32_t next_page_ = 1;
    std::size_t pages_ = 0;
    bool done_ = false;

    // The newest time a packet may have: the caller's end, or the newest packet of the
    // first page. query_end_ is what is sent (rounded up to the second).
    std::optional<packet_time> upper_;
    std::optional<std::chrono::system_clock::time_point> query_end_;

    // Where the walk is: the time of the last accepted packet and how many packets with
    // each hex text were accepted at exactly that time.
    std::optional<packet_time> last_time_;
    std::map<std::string, std::size_t> at_last_;
    std::int64_t prev_total_ = -1;
};

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/history_cursor.ipp>
#endif

#endif
