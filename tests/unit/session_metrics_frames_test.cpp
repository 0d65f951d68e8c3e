// What the read side counts for the session's metrics: every data message once (also
// fragmented, dropped and text ones) with its payload bytes; control frames not.
#include <atomcloud/detail/session_frames.hpp>
#include <atomcloud/detail/subscription_tracker.hpp>
#include <atomcloud/frame.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

using namespace atomcloud;
using namespace atomcloud::detail;

namespace {

const device_number dev_a{"18846494908532689575"};
const device_number dev_b{"00000000000000000002"};

bytes server_frame(std::uint8_t opcode, bytes_view payload, bool fin = true) {
    bytes f{static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | opcode)};
    if (payload.size() < 126) {
        f.push_back(static_cast<std::uint8_t>(payload.size()));
    } else {
        f.push_back(126);
        f.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
        f.push_back(static_cast<std::uint8_t>(payload.size()));
    }
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
}

void put(event_arena& a, const bytes& b) {
    auto room = a.prepare(b.size());
    std::memcpy(room.data(), b.data(), b.size());
    a.commit(b.size());
}

} // namespace

TEST_CASE("ws_inbox: data messages and their bytes are counted", "[session][frames][metrics]") {
    event_arena arena;
    event_batch pending;
    subscription_tracker subs;
    subs.subscribe(std::vector<device_number>{dev_a});
    const receive_filter filter{&subs, 37};
    ws_inbox in(1 << 20);
    const bytes one = encode_frame(device_data_frame{dev_a, as_bytes("one")});
    const bytes big = encode_frame(device_data_frame{dev_a, bytes(300, 7)});
    const bytes other = encode_frame(device_data_frame{dev_b, as_bytes("other")});
    put(arena, server_frame(2, one));
    put(arena, server_frame(9, as_bytes("ping"))); // not a data message
    put(arena, server_frame(2, bytes_view(big).first(100), false));
    put(arena, server_frame(0, bytes_view(big).subspan(100))); // one message of two frames
    put(arena, server_frame(2, other));                        // dropped, still counted
    put(arena, server_frame(1, as_bytes("text")));             // malformed, still counted
    auto r = in.parse(arena, pending, filter, 100, 1 << 20, [](const device_number&) {});
    CHECK(r.messages == 4);
    CHECK(r.message_bytes == one.size() + big.size() + other.size() + 4);
    CHECK(r.device_frames == 2);
    CHECK(r.errors == 1);

    // A pass that finds nothing counts nothing.
    r = in.parse(arena, pending, filter, 100, 1 << 20, [](const device_number&) {});
    CHECK(r.messages == 0);
    CHECK(r.message_bytes == 0);
}
