// A translation unit of the compiled atomcloud library: the REST client, its models and the history
// walker.
#ifndef ATOMCLOUD_SEPARATE_COMPILATION
#error "src/rest.cpp is built with ATOMCLOUD_SEPARATE_COMPILATION (the atomcloud::atomcloud target)"
#endif
#include <atomcloud/impl/src_rest.ipp>
