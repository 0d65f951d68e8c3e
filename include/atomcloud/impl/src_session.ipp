// The compiled part of atomcloud, the WebSocket session: one of the three groups of
// <atomcloud/src.hpp>, each compiled in a translation unit of its own by the CMake target.
#ifndef ATOMCLOUD_IMPL_SRC_SESSION_IPP
#define ATOMCLOUD_IMPL_SRC_SESSION_IPP

#include <atomcloud/impl/session.ipp>
#include <atomcloud/impl/session_url.ipp>

#endif
