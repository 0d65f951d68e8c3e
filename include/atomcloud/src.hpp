// The compiled part of atomcloud. Include this in exactly one translation unit of a
// program built with ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud CMake
// target does this in src/atomcloud.cpp).
#ifndef ATOMCLOUD_SRC_HPP
#define ATOMCLOUD_SRC_HPP

#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error                                                                                             \
    "<atomcloud/src.hpp> is for separate compilation: define ATOMCLOUD_SEPARATE_COMPILATION, or drop this include to use atomcloud header-only"
#endif

#include <atomcloud/impl/config.ipp>
#include <atomcloud/impl/device_id.ipp>
#include <atomcloud/impl/error.ipp>
#include <atomcloud/impl/event_arena.ipp>
#include <atomcloud/impl/events.ipp>
#include <atomcloud/impl/frame.ipp>
#include <atomcloud/impl/history.ipp>
#include <atomcloud/impl/history_cursor.ipp>
#include <atomcloud/impl/logger.ipp>
#include <atomcloud/impl/models.ipp>
#include <atomcloud/impl/payload.ipp>
#include <atomcloud/impl/rest_client.ipp>
#include <atomcloud/impl/rest_protocol.ipp>
#include <atomcloud/impl/session.ipp>
#include <atomcloud/impl/session_url.ipp>
#include <atomcloud/impl/tls.ipp>
#include <atomcloud/impl/url.ipp>

#endif
