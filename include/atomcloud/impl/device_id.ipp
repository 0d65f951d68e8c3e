#ifndef ATOMCLOUD_IMPL_DEVICE_ID_IPP
#define ATOMCLOUD_IMPL_DEVICE_ID_IPP

#include <atomcloud/device_id.hpp>

#include <ostream>

namespace atomcloud {

ATOMCLOUD_DECL std::ostream& operator<<(std::ostream& os, const device_number& n) {
    return os << n.view();
}

ATOMCLOUD_DECL std::ostream& operator<<(std::ostream& os, const nbiot_id& id) {
    return os << id.view();
}

} // namespace atomcloud

#endif
