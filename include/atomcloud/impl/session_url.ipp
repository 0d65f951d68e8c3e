#ifndef ATOMCLOUD_IMPL_SESSION_URL_IPP
#define ATOMCLOUD_IMPL_SESSION_URL_IPP

#include <atomcloud/detail/session_url.hpp>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <random>

namespace atomcloud::detail {

ATOMCLOUD_DECL std::string websocket_target(const base_url& url, std::string_view api_token,
                                            std::int64_t org_id, std::string_view random_token) {
    std::string t = url.path_prefix;
    t += "/connection/";
    t += percent_encode(api_token);
    t += "/org/";
    t += std::to_string(org_id);
    t += "?token=";
    t += percent_encode(random_token);
    return t;
}

ATOMCLOUD_DECL std::string websocket_url_for_log(const base_url& url, std::int64_t org_id) {
    std::string u = "wss://";
    u += url.host_header();
    u += url.path_prefix;
    u += "/connection/***/org/";
    u += std::to_string(org_id);
    return u;
}

ATOMCLOUD_DECL std::string random_guid() {
    boost::uuids::uuid id;
    try {
        id = boost::uuids::random_generator()();
    } catch (const boost::uuids::entropy_error&) {
        std::random_device rd;
        std::mt19937_64 rng((std::uint64_t(rd()) << 32) ^ rd());
        id = boost::uuids::basic_random_generator<std::mt19937_64>(rng)();
    }
    return boost::uuids::to_string(id);
}

} // namespace atomcloud::detail

#endif
