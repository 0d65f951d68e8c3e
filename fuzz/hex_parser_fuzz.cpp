// Fuzzes the hex parser and the text helpers with arbitrary text. Properties checked:
// parsing never crashes; whatever parses prints back to hex that parses to the same bytes;
// lenient GBK decoding always yields valid UTF-8.
#include <atomcloud/payload.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    atomcloud::error_code ec;
    const atomcloud::bytes parsed = atomcloud::parse_hex_packet(text, ec);
    if (!ec) {
        const std::string hex = atomcloud::to_hex_packet(parsed);
        if (hex.size() != (parsed.empty() ? 0 : parsed.size() * 3 - 1))
            std::abort();
        atomcloud::error_code ec2;
        if (atomcloud::parse_hex_packet(hex, ec2) != parsed || ec2)
            std::abort();
    } else if (!parsed.empty()) {
        std::abort(); // errors return nothing
    }

    const atomcloud::bytes_view raw(data, size);
    if (!atomcloud::is_valid_utf8(atomcloud::gbk_to_utf8(raw)))
        std::abort();
    atomcloud::error_code strict_ec;
    const std::string strict = atomcloud::gbk_to_utf8(raw, strict_ec);
    if (!strict_ec && !atomcloud::is_valid_utf8(strict))
        std::abort();
    (void)atomcloud::utf8_to_gbk(text, strict_ec);
    return 0;
}
