// A consumer of the installed (or embedded) atomcloud, compiled as C++17.
#include <atomcloud/atomcloud.hpp>

#include <cstdio>
#include <string>

int main() {
    using namespace atomcloud;
    const bytes wire = encode_frame(subscribe_frame{device_number("18846494908532689575")});
    error_code ec;
    auto f = decode_frame(wire, frame_origin::cloud, ec);
    if (f || ec != client_errc::wrong_direction) {
        std::puts("consumer failed: wrong_direction expected");
        return 1;
    }
    if (gbk_to_utf8(parse_hex_packet("D5 FD B5 E3")) != "正点") {
        std::puts("consumer failed: GBK");
        return 1;
    }
    const std::string hex = to_hex_packet(wire);
    std::printf("consumer ok: %s\n", hex.c_str());
    return 0;
}
