// The compiled part of atomcloud, ids, frames, payloads, errors, configuration, logging, TLS and
// URLs: one of the three groups of <atomcloud/src.hpp>, each compiled in a translation unit of its
// own by the CMake target.
#ifndef ATOMCLOUD_IMPL_SRC_CORE_IPP
#define ATOMCLOUD_IMPL_SRC_CORE_IPP

#include <atomcloud/impl/config.ipp>
#include <atomcloud/impl/device_id.ipp>
#include <atomcloud/impl/endpoint.ipp>
#include <atomcloud/impl/error.ipp>
#include <atomcloud/impl/event_arena.ipp>
#include <atomcloud/impl/events.ipp>
#include <atomcloud/impl/frame.ipp>
#include <atomcloud/impl/logger.ipp>
#include <atomcloud/impl/metrics.ipp>
#include <atomcloud/impl/payload.ipp>
#include <atomcloud/impl/proxy.ipp>
#include <atomcloud/impl/time.ipp>
#include <atomcloud/impl/tls.ipp>
#include <atomcloud/impl/url.ipp>

#endif
