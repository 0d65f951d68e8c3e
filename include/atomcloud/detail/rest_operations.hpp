// The operations of the REST client, one descriptor per endpoint: what it takes and what
// it yields. rest_client's overloads of an operation (async with a token, async with
// diagnostics, sync with an error_code, sync throwing) all forward the descriptor to one
// generic engine entry (detail/rest_engine.hpp); the engine maps it to its request target
// and parser (rest_endpoint in impl/rest_client.ipp). Internal.
//
// Adding an endpoint: a descriptor here, its rest_endpoint overload and instantiation in
// impl/rest_client.ipp, its target and parser in the protocol (detail/rest_protocol.hpp),
// and its documented one-line members in rest_client.hpp.
#ifndef ATOMCLOUD_DETAIL_REST_OPERATIONS_HPP
#define ATOMCLOUD_DETAIL_REST_OPERATIONS_HPP

#include <atomcloud/models.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace atomcloud::detail::rest_op {

/// GET /api/orgs
struct list_orgs {
    using result_type = std::vector<org>;
};

/// GET /api/orgs/:org_id/grouplist
struct list_groups {
    using result_type = std::vector<group>;
    std::int64_t org_id;
};

/// GET /api/orgs/:org_id/groups/:group_id/devices
struct list_devices {
    using result_type = std::vector<device>;
    std::int64_t org_id;
    std::int64_t group_id;
};

/// GET /api/orgs/:org_id/devicestate/:device_id
struct device_state {
    using result_type = ::atomcloud::device_state;
    std::int64_t org_id;
    std::int64_t device_id;
};

/// GET /api/orgs/:org_id/devicepacket/:number?page=&limit=&start=&end=
struct packets {
    using result_type = packet_page;
    std::int64_t org_id;
    std::string device; // the device number or NB-IoT id, validated by its type
    packet_query query;
};

} // namespace atomcloud::detail::rest_op

#endif
