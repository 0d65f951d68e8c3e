// The compiled part of atomcloud, the gapless stream: one of the groups of
// <atomcloud/src.hpp>, each compiled in a translation unit of its own by the CMake target.
#ifndef ATOMCLOUD_IMPL_SRC_STREAM_IPP
#define ATOMCLOUD_IMPL_SRC_STREAM_IPP

#include <atomcloud/impl/stream.ipp>
#include <atomcloud/impl/stream_sync.ipp>

#endif
