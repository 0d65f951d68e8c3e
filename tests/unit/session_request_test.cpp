// Request / reply without sockets: which request a message answers, when the next request
// to a device may be sent, what a lost link fails.
#include <atomcloud/request.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace atomcloud;

namespace {

const stream_device dev_a{device_number{"18846494908532689575"}};
const stream_device dev_b{device_number{"27309143566123801957"}};
const stream_device nb{nbiot_id{"b6d85634-9d34-4052-80cd-b840b75cb910"}};

reply_predicate starts_with(std::string prefix) {
    return [prefix](bytes_view p) { return as_chars(p).substr(0, prefix.size()) == prefix; };
}

} // namespace

TEST_CASE("request book: serialised, one active request per device", "[session][request]") {
    detail::request_book book(request_ordering::serialise, true);
    CHECK(book.add(1, dev_a, {}));
    CHECK_FALSE(book.add(2, dev_a, {})); // waits for 1
    CHECK(book.add(3, dev_b, {}));       // another device: at once
    CHECK(book.active(1));
    CHECK_FALSE(book.active(2));

    // A message of A answers 1 (the active one), and 2 becomes active.
    auto out = book.match(dev_a, as_bytes("OK"));
    CHECK(out.answered == 1);
    CHECK(out.start_next == 2);
    CHECK(book.active(2));
    // B's message answers 3, nothing follows.
    out = book.match(dev_b, as_bytes("OK"));
    CHECK(out.answered == 3);
    CHECK(out.start_next == 0);
    // A message of a device without a request answers nothing.
    CHECK(book.match(dev_b, as_bytes("late")).answered == 0);
    CHECK(book.size() == 1);
}

TEST_CASE("request book: predicates and heartbeats decide what answers", "[session][request]") {
    detail::request_book book(request_ordering::serialise, true);
    REQUIRE(book.add(1, dev_a, starts_with("+CSQ")));
    CHECK(book.match(dev_a, as_bytes("ALIENTEK-HRTDT")).answered == 0); // heartbeat
    CHECK(book.match(dev_a, as_bytes("temperature 21")).answered == 0); // no match
    CHECK(book.match(dev_a, as_bytes("+CSQ: 23,99")).answered == 1);

    detail::request_book keep(request_ordering::serialise, false);
    REQUIRE(keep.add(1, dev_a, {}));
    CHECK(keep.match(dev_a, as_bytes("ALIENTEK-HRTDT")).answered == 1);
}

TEST_CASE("request book: concurrent, first match wins", "[session][request]") {
    detail::request_book book(request_ordering::concurrent, true);
    CHECK(book.add(1, dev_a, starts_with("A")));
    CHECK(book.add(2, dev_a, {}));
    CHECK(book.add(3, dev_a, starts_with("A")));
    // "B..." does not match 1: the oldest request it matches is 2.
    CHECK(book.match(dev_a, as_bytes("B1")).answered == 2);
    CHECK(book.match(dev_a, as_bytes("A1")).answered == 1);
    CHECK(book.match(dev_a, as_bytes("A2")).answered == 3);
    CHECK(book.size() == 0);
}

TEST_CASE("request book: removal starts the next, NB-IoT ids are their own devices",
          "[session][request]") {
    detail::request_book book(request_ordering::serialise, true);
    REQUIRE(book.add(1, nb, {}));
    REQUIRE_FALSE(book.add(2, nb, {}));
    REQUIRE_FALSE(book.add(3, nb, {}));
    CHECK(book.match(dev_a, as_bytes("x")).answered == 0);
    CHECK(book.remove(2) == 0); // a queued one: nothing starts
    CHECK(book.remove(1) == 3); // the active one: the next starts
    CHECK(book.remove(1) == 0); // unknown id
    CHECK(book.all() == std::vector<detail::request_book::id_type>{3});
}

TEST_CASE("request book: a lost link fails only requests already written", "[session][request]") {
    detail::request_book book(request_ordering::concurrent, true);
    REQUIRE(book.add(1, dev_a, {}));
    REQUIRE(book.add(2, dev_b, {}));
    book.mark_sent(1);
    CHECK(book.sent() == std::vector<detail::request_book::id_type>{1});
}

TEST_CASE("reply_timeout has its own message", "[session][request]") {
    const error_code ec = client_errc::reply_timeout;
    CHECK(ec.message() == "the device did not answer in time");
}
