# Finds what atomcloud needs; a missing dependency is a configure error that names the
# Debian package providing it (scripts/install-deps.sh installs them all).

function(atomcloud_require_package name debian_package)
    find_package(${name} ${ARGN} QUIET)
    if(NOT ${name}_FOUND)
        message(FATAL_ERROR
            "atomcloud needs ${name} (${ARGN}), which was not found.\n"
            "On Debian/Ubuntu: sudo apt-get install ${debian_package}\n"
            "(or run scripts/install-deps.sh, which installs every dependency).")
    endif()
endfunction()

set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
# Boost.URL is the one compiled Boost library atomcloud links (the base and proxy URLs).
atomcloud_require_package(Boost "libboost1.81-dev libboost-url1.81-dev" 1.81 CONFIG
                          COMPONENTS url)
atomcloud_require_package(OpenSSL libssl-dev 3.0)
atomcloud_require_package(nlohmann_json nlohmann-json3-dev 3.10)
