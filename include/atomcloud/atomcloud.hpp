// atomcloud: the C++ SDK for ALIENTEK's Atom Cloud. Includes the whole public API but
// <atomcloud/cancel_after.hpp> (Asio's own cancel_after from Boost 1.86 on).
#ifndef ATOMCLOUD_ATOMCLOUD_HPP
#define ATOMCLOUD_ATOMCLOUD_HPP

#include <atomcloud/bytes.hpp>
#include <atomcloud/config.hpp>
#include <atomcloud/device_id.hpp>
#include <atomcloud/error.hpp>
#include <atomcloud/events.hpp>
#include <atomcloud/frame.hpp>
#include <atomcloud/history.hpp>
#include <atomcloud/logger.hpp>
#include <atomcloud/models.hpp>
#include <atomcloud/payload.hpp>
#include <atomcloud/presence.hpp>
#include <atomcloud/request.hpp>
#include <atomcloud/rest_client.hpp>
#include <atomcloud/session.hpp>
#include <atomcloud/stream.hpp>
#include <atomcloud/time.hpp>
#include <atomcloud/with_diagnostics.hpp>

#endif
