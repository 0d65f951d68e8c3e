#include <atomcloud/atomcloud.hpp>

#include <catch2/catch.hpp>

#ifdef ATOMCLOUD_SEPARATE_COMPILATION
#error "this test must build in header-only mode"
#endif

std::string second_tu_hex(atomcloud::bytes_view data);
atomcloud::error_code second_tu_decode(atomcloud::bytes_view data);

TEST_CASE("header-only mode: the codec works from two translation units", "[header-only]") {
    const atomcloud::bytes wire = atomcloud::encode_frame(
        atomcloud::subscribe_frame{atomcloud::device_number("18846494908532689575")});
    CHECK(second_tu_hex(wire) == "01 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35");
    CHECK(second_tu_decode(wire) == atomcloud::client_errc::wrong_direction);
    CHECK(atomcloud::to_hex_packet(wire) == second_tu_hex(wire));
}

TEST_CASE("header-only mode: categories are one object per program", "[header-only]") {
    atomcloud::error_code a = atomcloud::client_errc::invalid_hex;
    CHECK(second_tu_decode({}) == atomcloud::client_errc::empty_frame);
    CHECK(a.category() == atomcloud::client_category());
    CHECK(atomcloud::gbk_to_utf8(atomcloud::parse_hex_packet("D5 FD B5 E3")) == "正点");
}
