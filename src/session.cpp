// A translation unit of the compiled atomcloud library: the WebSocket session.
#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error                                                                                             \
    "src/session.cpp is built with ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud target)"
#endif
#include <atomcloud/impl/src_session.ipp>
