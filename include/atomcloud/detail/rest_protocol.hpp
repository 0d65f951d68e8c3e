// The HTTPS API without sockets: request targets, time formats, response parsing, the
// retry classification (the wait between retries is detail/backoff.hpp's). Internal; unit-tested on
// its own.
#ifndef ATOMCLOUD_DETAIL_REST_PROTOCOL_HPP
#define ATOMCLOUD_DETAIL_REST_PROTOCOL_HPP

#include <atomcloud/config.hpp>
#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/time.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/logger.hpp>
#include <atomcloud/models.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace atomcloud::detail {

// ---------------------------------------------------------------------------------------
// Targets (path and query of each request). `prefix` is base_url::path_prefix.

ATOMCLOUD_DECL std::string orgs_target(std::string_view prefix);
ATOMCLOUD_DECL std::string groups_target(std::string_view prefix, std::int64_t org_id);
ATOMCLOUD_DECL std::string devices_target(std::string_view prefix, std::int64_t org_id,
                                          std::int64_t group_id);
ATOMCLOUD_DECL std::string device_state_target(std::string_view prefix, std::int64_t org_id,
                                               std::int64_t device_id);
/// The device number is percent-encoded; start/end are written in `utc_offset` as
/// "yyyy-MM-dd hh:mm:ss" (truncated to the second) and percent-encoded.
ATOMCLOUD_DECL std::string packets_target(std::string_view prefix, std::int64_t org_id,
                                          std::string_view number, const packet_query& q,
                                          std::chrono::minutes utc_offset);

// ---------------------------------------------------------------------------------------
// Responses. Each parse_* function checks the HTTP status, the JSON envelope and `code`,
// then reads `data`. On failure it sets ec (client_errc::http_status, invalid_json,
// missing_envelope, invalid_field, response_too_large, or the api_errc of `code`) and
// fills `diag`; the server's message is kept, with the token redacted. Nothing throws
// but bad_alloc.
//
// The body is read in one pass straight into the models (no JSON document is built), so
// the peak memory of a parse is a small multiple of the body, whatever the server sends.
// Integers may come as JSON numbers or as decimal text (the whole int64 range; beyond it
// "integer out of range"). Ill-formed UTF-8 inside strings (a GBK message, say) does not
// make the body invalid: each run of bad bytes is read as U+FFFD.

/// Containers nested deeper than this (the envelope is level 1) make the body invalid
/// JSON: the API's deepest value is at level 4.
inline constexpr std::size_t max_response_depth = 64;

/// A list (`data` of orgs, groups, devices; `data.items` of a history page) with more
/// items than this is refused with client_errc::response_too_large. Far more than any
/// response needs (a history page holds at most 1000 packets), it bounds the memory that
/// a body of many tiny items would take as models.
inline constexpr std::size_t max_response_items = 100000;

struct parse_context {
    /// Redacted from every message that is kept.
    std::string_view token;
    /// For history times without an offset.
    std::chrono::minutes default_offset{8 * 60};
    /// For warnings (a packet whose length disagrees with its bytes). May be null.
    const logger* log = nullptr;
};

/// Reads the API's envelope `{"code": ..., "message": ..., "data": ...}` of any answer
/// (a refused WebSocket upgrade, say): when `body` is one, its code goes to
/// diag.api_code() and its message, with `token` redacted, to diag.server_message();
/// otherwise diag is left as it was. The parse_* functions read the envelope the same way.
ATOMCLOUD_DECL void read_envelope(std::string_view body, std::string_view token, diagnostics& diag);

ATOMCLOUD_DECL std::vector<org> parse_orgs(int http_status, std::string_view body,
                                           const parse_context& ctx, diagnostics& diag,
                                           error_code& ec);
ATOMCLOUD_DECL std::vector<group> parse_groups(int http_status, std::string_view body,
                                               const parse_context& ctx, diagnostics& diag,
                                               error_code& ec);
ATOMCLOUD_DECL std::vector<device> parse_devices(int http_status, std::string_view body,
                                                 const parse_context& ctx, diagnostics& diag,
                                                 error_code& ec);
ATOMCLOUD_DECL device_state parse_device_state(int http_status, std::string_view body,
                                               const parse_context& ctx, diagnostics& diag,
                                               error_code& ec);
ATOMCLOUD_DECL packet_page parse_packet_page(int http_status, std::string_view body,
                                             const parse_context& ctx, diagnostics& diag,
                                             error_code& ec);

// ---------------------------------------------------------------------------------------
// Retries.

/// True for failures worth another attempt: connection-level errors (refused, reset,
/// closed before or during the response, truncated TLS stream), HTTP 5xx (also a proxy's
/// 5xx refusal of CONNECT: client_errc::proxy_rejected) and API code 500. Timeouts, TLS
/// verification failures, cancellation and every other HTTP or API error are final.
ATOMCLOUD_DECL bool is_transient(const error_code& ec, int http_status) noexcept;

/// True for errors that mean "the server closed this connection": what a reused idle
/// keep-alive connection reports when the server dropped it meanwhile.
ATOMCLOUD_DECL bool is_connection_closed(const error_code& ec) noexcept;

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/rest_protocol.ipp>
#endif

#endif
