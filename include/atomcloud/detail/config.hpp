// Build-mode switches shared by every atomcloud header.
//
// atomcloud is header-mostly. By default (no macro defined) it is header-only: each
// public header includes the bodies of its non-template functions (impl/*.ipp) and they
// are `inline`. Define ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud CMake
// target does) to compile those bodies once, in a single translation unit that includes
// <atomcloud/src.hpp>.
#ifndef ATOMCLOUD_DETAIL_CONFIG_HPP
#define ATOMCLOUD_DETAIL_CONFIG_HPP

#if defined(ATOMCLOUD_SEPARATE_COMPILATION)
#define ATOMCLOUD_DECL
#else
#define ATOMCLOUD_HEADER_ONLY 1
#define ATOMCLOUD_DECL inline
#endif

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "atomcloud needs C++17 or later"
#endif

#define ATOMCLOUD_VERSION_MAJOR 0
#define ATOMCLOUD_VERSION_MINOR 1
#define ATOMCLOUD_VERSION_PATCH 0
#define ATOMCLOUD_VERSION_STRING "0.1.0"

#endif
