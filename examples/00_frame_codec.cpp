// The frame codec on its own: build the frames an application sends, decode the ones the
// cloud sends, and turn device bytes into text. No network needed.
#include <atomcloud/atomcloud.hpp>

#include <iostream>

int main() {
    using namespace atomcloud;
    const device_number device("18846494908532689575");

    // What an application sends to subscribe to a device.
    std::cout << "subscribe:      " << to_hex_packet(encode_frame(subscribe_frame{device})) << '\n';

    // What the cloud forwards when that device sends its heartbeat.
    const bytes from_cloud = encode_frame(device_data_frame{device, as_bytes("ALIENTEK-HRTDT")});
    std::cout << "device message: " << to_hex_packet(from_cloud) << '\n';

    error_code ec;
    auto f = decode_frame(from_cloud, frame_origin::cloud, ec);
    if (!f) {
        std::cerr << "decode failed: " << ec.message() << '\n';
        return 1;
    }
    if (const auto* msg = std::get_if<device_data_frame>(&*f))
        std::cout << "decoded:        0x06 from " << msg->device << ", "
                  << (is_heartbeat(msg->payload) ? "heartbeat" : "data") << '\n';

    // A malformed frame is an error value, never a crash.
    const bytes truncated(from_cloud.begin(), from_cloud.begin() + 10);
    decode_frame(truncated, frame_origin::cloud, ec);
    std::cout << "truncated:      " << ec.message() << '\n';

    // Device text is usually GBK.
    const bytes gbk = parse_hex_packet("D5 FD B5 E3 D4 AD D7 D3 CA FD BE DD B2 E2 CA D4");
    std::cout << "GBK payload:    " << gbk_to_utf8(gbk) << '\n';

    // Sending to an NB-IoT device: the id is padded to 37 bytes on the wire.
    const std::uint8_t data[] = {0x01, 0x02};
    const bytes nb =
        encode_frame(nbiot_send_frame{nbiot_id("b6d85634-9d34-4052-80cd-b840b75cb910"), data});
    std::cout << "NB-IoT send:    " << to_hex_packet(nb) << " (" << nb.size() << " bytes)\n";
    return 0;
}
