// The compiled part of atomcloud, the REST client, its models and the history walker: one of the
// three groups of <atomcloud/src.hpp>, each compiled in a translation unit of its own by the CMake
// target.
#ifndef ATOMCLOUD_IMPL_SRC_REST_IPP
#define ATOMCLOUD_IMPL_SRC_REST_IPP

#include <atomcloud/impl/history.ipp>
#include <atomcloud/impl/history_cursor.ipp>
#include <atomcloud/impl/models.ipp>
#include <atomcloud/impl/rest_client.ipp>
#include <atomcloud/impl/rest_protocol.ipp>

#endif
