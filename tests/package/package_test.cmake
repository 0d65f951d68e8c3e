# Driven by ctest (see CMakeLists.txt next to this file): cmake -DSTEP=... -P package_test.cmake
cmake_minimum_required(VERSION 3.25)

set(prefix ${WORK}/installed)  # where the package is installed first
set(moved ${WORK}/moved/atomcloud-root) # where it is moved to (relocation)

set(consumer_flags "")
if(SANITIZE)
    set(consumer_flags "-fsanitize=${SANITIZE} -fno-omit-frame-pointer")
endif()

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        string(REPLACE ";" " " cmd "${ARGN}")
        message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
    endif()
    set(run_output "${out}" PARENT_SCOPE)
endfunction()

# The consumer prints this line when everything it checks is right.
set(expected "consumer ok: 01 31 38 38 34 36 34 39 34 39 30 38 35 33 32 36 38 39 35 37 35")

function(check_output)
    string(FIND "${run_output}" "${expected}" pos)
    if(pos EQUAL -1)
        message(FATAL_ERROR "consumer printed:\n${run_output}\nexpected a line: ${expected}")
    endif()
endfunction()

function(build_consumer mode)
    set(bin ${WORK}/consumer-${mode})
    file(REMOVE_RECURSE ${bin})
    run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${bin} -G ${GENERATOR}
        -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
        -DCMAKE_BUILD_TYPE=Debug
        "-DCMAKE_CXX_FLAGS=${consumer_flags}"
        "-DCMAKE_EXE_LINKER_FLAGS=${consumer_flags}"
        -DCMAKE_PREFIX_PATH=${moved}
        -DCONSUMER_MODE=${mode}
        -DATOMCLOUD_SOURCE_DIR=${SOURCE_DIR})
    run(${CMAKE_COMMAND} --build ${bin} -j2)
    run(${bin}/consumer)
    check_output()
endfunction()

if(STEP STREQUAL "install")
    file(REMOVE_RECURSE ${WORK})
    run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
    foreach(f include/atomcloud/atomcloud.hpp include/atomcloud/src.hpp)
        if(NOT EXISTS ${prefix}/${f})
            message(FATAL_ERROR "not installed: ${f}")
        endif()
    endforeach()
    file(GLOB_RECURSE config_files ${prefix}/*/atomcloudConfig.cmake ${prefix}/*/atomcloudConfigVersion.cmake
         ${prefix}/*/atomcloudTargets.cmake ${prefix}/*/atomcloud.pc)
    list(LENGTH config_files n)
    if(NOT n EQUAL 4)
        message(FATAL_ERROR "expected config, version, targets and .pc files, found: ${config_files}")
    endif()
    # Relocatable: nothing installed may refer to the install prefix.
    foreach(f IN LISTS config_files)
        file(READ ${f} text)
        string(FIND "${text}" "${prefix}" pos)
        if(NOT pos EQUAL -1)
            message(FATAL_ERROR "${f} hard-codes the install prefix ${prefix}")
        endif()
    endforeach()
    get_filename_component(moved_parent ${moved} DIRECTORY)
    file(MAKE_DIRECTORY ${moved_parent})
    file(RENAME ${prefix} ${moved})
elseif(STEP STREQUAL "find_package" OR STEP STREQUAL "header_only" OR STEP STREQUAL "add_subdirectory")
    build_consumer(${STEP})
elseif(STEP STREQUAL "pkg_config")
    find_program(PKG_CONFIG pkg-config REQUIRED)
    file(GLOB_RECURSE pc ${moved}/*/atomcloud.pc)
    get_filename_component(pc_dir ${pc} DIRECTORY)
    set(ENV{PKG_CONFIG_PATH} ${pc_dir})
    run(${PKG_CONFIG} --cflags --libs atomcloud)
    string(STRIP "${run_output}" flags)
    separate_arguments(flags UNIX_COMMAND "${flags}")
    separate_arguments(extra UNIX_COMMAND "${consumer_flags}")
    set(bin ${WORK}/consumer-pkg-config)
    file(MAKE_DIRECTORY ${bin})
    run(${CXX_COMPILER} -std=c++17 ${extra} ${CONSUMER_DIR}/main.cpp -o ${bin}/consumer ${flags})
    run(${bin}/consumer)
    check_output()
else()
    message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
