// A second translation unit of the header-only test: the same inline functions are
// emitted here too; the program must still link (ODR-correct header-only mode).
#include <atomcloud/atomcloud.hpp>

#ifndef ATOMCLOUD_HEADER_ONLY
#error "this test must build in header-only mode"
#endif

std::string second_tu_hex(atomcloud::bytes_view data) {
    return atomcloud::to_hex_packet(data);
}

atomcloud::error_code second_tu_decode(atomcloud::bytes_view data) {
    atomcloud::error_code ec;
    (void)atomcloud::decode_frame(data, atomcloud::frame_origin::cloud, ec);
    return ec;
}
