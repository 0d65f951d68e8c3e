// A translation unit of the compiled atomcloud library: the gapless stream.
#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error                                                                                             \
    "src/stream.cpp is built with ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud target)"
#endif
#include <atomcloud/impl/src_stream.ipp>
