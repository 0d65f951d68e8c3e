// Where a session connects: the WebSocket request target with the API token and a fresh
// random token, and the redacted form of the URL that logs may show. Internal.
#ifndef ATOMCLOUD_DETAIL_SESSION_URL_HPP
#define ATOMCLOUD_DETAIL_SESSION_URL_HPP

#include <atomcloud/detail/config.hpp>
#include <atomcloud/detail/url.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace atomcloud::detail {

/// The request target of the WebSocket upgrade:
/// <prefix>/connection/<api token>/org/<org_id>?token=<random token>
/// (the API token percent-encoded, so that no character of it can change the path).
ATOMCLOUD_DECL std::string websocket_target(const base_url& url, std::string_view api_token,
                                            std::int64_t org_id, std::string_view random_token);

/// The URL for logs and error texts: wss://host[:port]<prefix>/connection/***/org/<org_id>.
/// It holds neither the API token nor the random token.
ATOMCLOUD_DECL std::string websocket_url_for_log(const base_url& url, std::int64_t org_id);

/// A fresh random version-4 GUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower case),
/// from Boost.UUID's generator over the system's entropy (a generator seeded from
/// std::random_device if the system has none to give).
ATOMCLOUD_DECL std::string random_guid();

} // namespace atomcloud::detail

#ifdef ATOMCLOUD_HEADER_ONLY
#include <atomcloud/impl/session_url.ipp>
#endif

#endif
