// The compiled part of atomcloud, request / reply and presence over a session: one of the groups
// of <atomcloud/src.hpp>, each compiled in a translation unit of its own by the CMake target.
#ifndef ATOMCLOUD_IMPL_SRC_REQUEST_IPP
#define ATOMCLOUD_IMPL_SRC_REQUEST_IPP

#include <atomcloud/impl/presence.ipp>
#include <atomcloud/impl/request.ipp>

#endif
