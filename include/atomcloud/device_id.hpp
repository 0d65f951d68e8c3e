// Device identifiers as they travel in WebSocket frames.
//
//  - device_number: a DTU / WIFI / 4G DTU device, exactly 20 ASCII characters
//    (e.g. "18846494908532689575"), sent as 20 bytes.
//  - nbiot_id: an NB-IoT device, up to 37 bytes (in practice a 36-character UUID),
//    always exactly 37 bytes on the wire: right-padded with 0x00 when encoded, trailing
//    0x00 bytes stripped when decoded.
//
// Both are small values with inline storage: constructing or copying one never allocates.
#ifndef ATOMCLOUD_DEVICE_ID_HPP
#define ATOMCLOUD_DEVICE_ID_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace atomcloud {

/// The 20-character number of a DTU, WIFI or 4G DTU device.
///
/// Valid numbers are exactly 20 printable ASCII characters (0x21-0x7E); numbers issued
/// by the platform are decimal digits.
class device_number {
public:
    /// Width of the id in frames 0x01-0x06.
    static constexpr std::size_t wire_size = 20;

    /// Validates and stores `text`. Throws atomcloud::error (client_errc::invalid_device_number)
    /// if it is not a valid number; use parse() to avoid exceptions.
    explicit device_number(std::string_view text) : device_number(checked(text)) {}

    /// The number if `text` is valid, otherwise std::nullopt.
    static std::optional<device_number> parse(std::string_view text) noexcept {
        if (!is_valid(text))
            return std::nullopt;
        return device_number(text, unchecked_tag{});
    }

    /// The number, or sets ec to client_errc::invalid_device_number.
    static std::optional<device_number> parse(std::string_view text, error_code& ec) noexcept {
        auto r = parse(text);
        ec = r ? error_code() : make_error_code(client_errc::invalid_device_number);
        return r;
    }

    /// True if `text` is exactly 20 printable ASCII characters.
    static constexpr bool is_valid(std::string_view text) noexcept {
        if (text.size() != wire_size)
            return false;
        for (char c : text)
            if (c < 0x21 || c > 0x7e)
                return false;
        return true;
    }

    std::string_view view() const noexcept { return {chars_.data(), wire_size}; }
    std::string str() const { return std::string(view()); }
    const char* data() const noexcept { return chars_.data(); }
    static constexpr std::size_t size() noexcept { return wire_size; }

    friend bool operator==(const device_number& a, const device_number& b) noexcept {
        return a.chars_ == b.chars_;
    }
    friend bool operator!=(const device_number& a, const device_number& b) noexcept {
        return !(a == b);
    }
    friend bool operator<(const device_number& a, const device_number& b) noexcept {
        return a.chars_ < b.chars_;
    }

private:
    struct unchecked_tag {};
    device_number(std::string_view text, unchecked_tag) noexcept {
        for (std::size_t i = 0; i < wire_size; ++i)
            chars_[i] = text[i];
    }
    static device_number checked(std::string_view text) {
        auto r = parse(text);
        if (!r)
            throw error(make_error_code(client_errc::invalid_device_number));
        return *r;
    }

    std::array<char, wire_size> chars_{};
};

/// The id of an NB-IoT device: 1 to 37 bytes, none of them NUL.
class nbiot_id {
public:
    /// Width of the id in frames 0x07 and 0x08.
    static constexpr std::size_t wire_size = 37;

    /// Validates and stores `text`. Throws atomcloud::error (client_errc::invalid_nbiot_id)
    /// if it is empty, longer than 37 bytes or contains a NUL byte; use parse() to avoid
    /// exceptions.
    explicit nbiot_id(std::string_view text) : nbiot_id(checked(text)) {}

    /// The id if `text` is valid, otherwise std::nullopt.
    static std::optional<nbiot_id> parse(std::string_view text) noexcept {
        if (!is_valid(text))
            return std::nullopt;
        return nbiot_id(text, unchecked_tag{});
    }

    /// The id, or sets ec to client_errc::invalid_nbiot_id.
    static std::optional<nbiot_id> parse(std::string_view text, error_code& ec) noexcept {
        auto r = parse(text);
        ec = r ? error_code() : make_error_code(client_errc::invalid_nbiot_id);
        return r;
    }

    /// Decodes the wire field (wire_size bytes, or the width a session is configured
    /// with): trailing 0x00 bytes are padding and stripped; what remains must be a valid
    /// id (not empty, no NUL inside, at most wire_size bytes).
    static std::optional<nbiot_id> from_wire(std::string_view field) noexcept {
        std::size_t n = field.size();
        while (n > 0 && field[n - 1] == '\0')
            --n;
        return parse(field.substr(0, n));
    }

    /// Writes the wire field of `width` bytes (the id, then 0x00 padding) to `out`. The id
    /// must fit: size() <= width <= wire_size.
    void to_wire(std::uint8_t* out, std::size_t width = wire_size) const noexcept {
        for (std::size_t i = 0; i < width; ++i)
            out[i] = static_cast<std::uint8_t>(chars_[i]);
    }

    static constexpr bool is_valid(std::string_view text) noexcept {
        if (text.empty() || text.size() > wire_size)
            return false;
        for (char c : text)
            if (c == '\0')
                return false;
        return true;
    }

    std::string_view view() const noexcept { return {chars_.data(), size_}; }
    std::string str() const { return std::string(view()); }
    std::size_t size() const noexcept { return size_; }

    friend bool operator==(const nbiot_id& a, const nbiot_id& b) noexcept {
        return a.view() == b.view();
    }
    friend bool operator!=(const nbiot_id& a, const nbiot_id& b) noexcept { return !(a == b); }
    friend bool operator<(const nbiot_id& a, const nbiot_id& b) noexcept {
        return a.view() < b.view();
    }

private:
    struct unchecked_tag {};
    nbiot_id(std::string_view text, unchecked_tag) noexcept
        : size_(static_cast<std::uint8_t>(text.size())) {
        for (std::size_t i = 0; i < text.size(); ++i)
            chars_[i] = text[i];
    }
    static nbiot_id checked(std::string_view text) {
        auto r = parse(text);
        if (!r)
            throw error(make_error_code(client_errc::invalid_nbiot_id));
        return *r;
    }

    std::array<char, wire_size> chars_{}; // zero-filled: the padding is already in place
    std::uint8_t size_ = 0;
};

ATOMCLOUD_DECL std::ostream& operator<<(std::ostream& os, const device_number& n);
ATOMCLOUD_DECL std::ostream& operator<<(std::ostream& os, const nbiot_id& id);

} // namespace atomcloud

namespace std {
template <>
struct hash<atomcloud::device_number> {
    std::size_t operator()(const atomcloud::device_number& n) const noexcept {
        return std::hash<std::string_view>{}(n.view());
    }
};

template <>
struct hash<atomcloud::nbiot_id> {
    std::size_t operator()(const atomcloud::nbiot_id& id) const noexcept {
        return std::hash<std::string_view>{}(id.view());
    }
};
} // namespace std

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/device_id.ipp>
#endif

#endif
