// Fuzzes the frame decoder with arbitrary bytes from both directions. Properties checked:
// decoding never crashes; a frame that decodes re-encodes to exactly the input bytes;
// a rejected frame always comes with an error code.
#include <atomcloud/frame.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const atomcloud::bytes_view input(data, size);
    for (auto origin : {atomcloud::frame_origin::app, atomcloud::frame_origin::cloud}) {
        atomcloud::error_code ec;
        auto f = atomcloud::decode_frame(input, origin, ec);
        if (!f) {
            if (!ec)
                std::abort(); // rejected without saying why
            continue;
        }
        if (ec)
            std::abort();
        const atomcloud::bytes again = atomcloud::encode_frame(*f);
        if (again.size() != size || (size != 0 && std::memcmp(again.data(), data, size) != 0))
            std::abort(); // decode -> encode must be the identity on valid frames
        if (atomcloud::encoded_size(*f) != size)
            std::abort();
    }
    return 0;
}
