// A translation unit of the compiled atomcloud library: ids, frames, payloads, errors,
// configuration, logging, TLS and URLs.
#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error "src/core.cpp is built with ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud target)"
#endif
#include <atomcloud/impl/src_core.ipp>
