# Warnings for atomcloud's own targets (never for consumers' code).
function(atomcloud_warnings target)
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                               -Wcast-align)
        if(ATOMCLOUD_WERROR)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    endif()
    # GCC 12 at -O2/-O3 reports a false -Wrestrict inside libstdc++ where a string is
    # prepended to a temporary (`"x" + std::string(...)` inlines to an overlapping memcpy
    # it cannot bound): GCC bug 105651. Off for that compiler's optimised builds only.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
       AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
        target_compile_options(${target} PRIVATE $<$<NOT:$<CONFIG:Debug>>:-Wno-restrict>)
    endif()
endfunction()
