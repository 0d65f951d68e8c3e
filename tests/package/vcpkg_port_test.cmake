# Runs packaging/vcpkg/atomcloud/portfile.cmake as vcpkg would, with stand-ins for the
# vcpkg helper functions it calls: each stand-in performs the real step (CMake configure,
# build, install, layout fix-ups) so the port's own options and steps are what build
# the package. Records the configure options in ${WORK}/vcpkg-options.txt.
#   cmake -DWORK=... -DSOURCE_DIR=... -DGENERATOR=... -DCXX_COMPILER=... -P vcpkg_port_test.cmake
cmake_minimum_required(VERSION 3.25)

set(PORT atomcloud)
set(FEATURES core)
set(VCPKG_LIBRARY_LINKAGE static)
set(CURRENT_PACKAGES_DIR ${WORK}/vcpkg/packages/atomcloud_x64-linux)
set(CURRENT_BUILDTREES_DIR ${WORK}/vcpkg/buildtrees/atomcloud)
file(REMOVE_RECURSE ${WORK}/vcpkg)

function(_run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        string(REPLACE ";" " " cmd "${ARGN}")
        message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
    endif()
endfunction()

function(vcpkg_check_features)
    cmake_parse_arguments(ARG "" "OUT_FEATURE_OPTIONS" "FEATURES;INVERTED_FEATURES" ${ARGN})
    set(out "")
    list(LENGTH ARG_FEATURES n)
    math(EXPR last "${n} - 1")
    foreach(i RANGE 0 ${last} 2)
        math(EXPR j "${i} + 1")
        list(GET ARG_FEATURES ${i} feature)
        list(GET ARG_FEATURES ${j} variable)
        if(feature IN_LIST FEATURES)
            list(APPEND out "-D${variable}=ON")
        else()
            list(APPEND out "-D${variable}=OFF")
        endif()
    endforeach()
    set(${ARG_OUT_FEATURE_OPTIONS} "${out}" PARENT_SCOPE)
endfunction()

function(vcpkg_cmake_configure)
    cmake_parse_arguments(ARG "" "SOURCE_PATH" "OPTIONS;OPTIONS_RELEASE;OPTIONS_DEBUG" ${ARGN})
    set(options ${ARG_OPTIONS} ${ARG_OPTIONS_RELEASE})
    string(REPLACE ";" "\n" lines "${options}")
    file(WRITE ${WORK}/vcpkg-options.txt "${lines}\n")
    _run(${CMAKE_COMMAND} -S ${ARG_SOURCE_PATH} -B ${CURRENT_BUILDTREES_DIR}/x64-linux-rel
         -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release
         # The stand-in's triplet compiles without optimisation, as one unity translation
         # unit: this checks the port's steps and options, and -O0 halves the time the
         # test takes (the unity build saves a quarter of the rest).
         -DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG -DCMAKE_UNITY_BUILD=ON
         -DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR} ${options})
endfunction()

function(vcpkg_cmake_install)
    _run(${CMAKE_COMMAND} --build ${CURRENT_BUILDTREES_DIR}/x64-linux-rel -j2)
    _run(${CMAKE_COMMAND} --install ${CURRENT_BUILDTREES_DIR}/x64-linux-rel)
endfunction()

function(vcpkg_cmake_config_fixup)
    cmake_parse_arguments(ARG "" "PACKAGE_NAME;CONFIG_PATH" "" ${ARGN})
    if(NOT ARG_PACKAGE_NAME)
        set(ARG_PACKAGE_NAME ${PORT})
    endif()
    if(NOT ARG_CONFIG_PATH)
        set(ARG_CONFIG_PATH share/${ARG_PACKAGE_NAME})
    endif()
    if(NOT ARG_CONFIG_PATH STREQUAL "share/${ARG_PACKAGE_NAME}")
        # vcpkg moves the config to share/<package> and rewrites its relative paths;
        # atomcloud's port installs it there directly instead.
        message(FATAL_ERROR "this test expects the port to install its config in share/${ARG_PACKAGE_NAME}")
    endif()
    if(NOT EXISTS ${CURRENT_PACKAGES_DIR}/${ARG_CONFIG_PATH}/atomcloudConfig.cmake)
        message(FATAL_ERROR "no atomcloudConfig.cmake in ${ARG_CONFIG_PATH}")
    endif()
endfunction()

function(vcpkg_fixup_pkgconfig)
    file(GLOB pc ${CURRENT_PACKAGES_DIR}/lib/pkgconfig/*.pc)
    if(NOT pc)
        message(FATAL_ERROR "no pkg-config file in lib/pkgconfig")
    endif()
endfunction()

function(vcpkg_copy_tools)
    cmake_parse_arguments(ARG "AUTO_CLEAN" "" "TOOL_NAMES" ${ARGN})
    file(MAKE_DIRECTORY ${CURRENT_PACKAGES_DIR}/tools/${PORT})
    foreach(tool IN LISTS ARG_TOOL_NAMES)
        file(RENAME ${CURRENT_PACKAGES_DIR}/bin/${tool} ${CURRENT_PACKAGES_DIR}/tools/${PORT}/${tool})
    endforeach()
    if(ARG_AUTO_CLEAN)
        file(GLOB left ${CURRENT_PACKAGES_DIR}/bin/*)
        if(NOT left)
            file(REMOVE_RECURSE ${CURRENT_PACKAGES_DIR}/bin)
        endif()
    endif()
endfunction()

function(vcpkg_install_copyright)
    cmake_parse_arguments(ARG "" "" "FILE_LIST" ${ARGN})
    file(READ ${ARG_FILE_LIST} text)
    file(WRITE ${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright "${text}")
endfunction()

set(CMAKE_CURRENT_LIST_DIR ${SOURCE_DIR}/packaging/vcpkg/atomcloud)
include(${SOURCE_DIR}/packaging/vcpkg/atomcloud/portfile.cmake)

# What vcpkg's post-build checks look for.
foreach(f share/atomcloud/atomcloudConfig.cmake share/atomcloud/atomcloudConfigVersion.cmake
          share/atomcloud/copyright include/atomcloud/atomcloud.hpp lib/libatomcloud.a
          lib/pkgconfig/atomcloud.pc)
    if(NOT EXISTS ${CURRENT_PACKAGES_DIR}/${f})
        message(FATAL_ERROR "vcpkg package lacks ${f}")
    endif()
endforeach()
if(EXISTS ${CURRENT_PACKAGES_DIR}/bin OR EXISTS ${CURRENT_PACKAGES_DIR}/debug/include)
    message(FATAL_ERROR "a default-features vcpkg package must have no bin/ and no debug/include/")
endif()
file(WRITE ${WORK}/vcpkg-prefix.txt ${CURRENT_PACKAGES_DIR})
