// The one translation unit of the compiled atomcloud library.
#include <atomcloud/src.hpp>
