// A translation unit of the compiled atomcloud library: request / reply and presence.
#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error                                                                                             \
    "src/request.cpp is built with ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud target)"
#endif
#include <atomcloud/impl/src_request.ipp>
