// The compiled part of atomcloud. Include this in exactly one translation unit of a
// program built with ATOMCLOUD_SEPARATE_COMPILATION. (The atomcloud::atomcloud CMake
// target compiles its three groups, impl/src_*.ipp, in src/{core,rest,session}.cpp, in
// parallel.)
#ifndef ATOMCLOUD_SRC_HPP
#define ATOMCLOUD_SRC_HPP

#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error                                                                                             \
    "<atomcloud/src.hpp> is for separate compilation: define ATOMCLOUD_SEPARATE_COMPILATION, or drop this include to use atomcloud header-only"
#endif

#include <atomcloud/impl/src_core.ipp>
#include <atomcloud/impl/src_request.ipp>
#include <atomcloud/impl/src_rest.ipp>
#include <atomcloud/impl/src_session.ipp>
#include <atomcloud/impl/src_stream.ipp>

#endif
