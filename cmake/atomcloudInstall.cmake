# Install rules: headers, the exported targets, a relocatable CMake package and a
# pkg-config file.

install(DIRECTORY include/atomcloud DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(_atomcloud_install_targets atomcloud atomcloud_header_only)
if(TARGET atomcloud_emulator)
    list(APPEND _atomcloud_install_targets atomcloud_emulator)
endif()
install(TARGETS ${_atomcloud_install_targets}
    EXPORT atomcloudTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(ATOMCLOUD_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/atomcloud CACHE STRING
    "Where atomcloudConfig.cmake is installed, relative to the prefix (vcpkg: share/atomcloud)")
set(ATOMCLOUD_CMAKE_DIR ${ATOMCLOUD_INSTALL_CMAKEDIR})
install(EXPORT atomcloudTargets
    NAMESPACE atomcloud::
    DESTINATION ${ATOMCLOUD_CMAKE_DIR})

configure_package_config_file(
    ${CMAKE_CURRENT_LIST_DIR}/atomcloudConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/atomcloudConfig.cmake
    INSTALL_DESTINATION ${ATOMCLOUD_CMAKE_DIR})
write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/atomcloudConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES
    ${CMAKE_CURRENT_BINARY_DIR}/atomcloudConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/atomcloudConfigVersion.cmake
    DESTINATION ${ATOMCLOUD_CMAKE_DIR})

# pkg-config: paths relative to the .pc file so the installed tree can be moved.
file(RELATIVE_PATH _atomcloud_pc_to_prefix
    "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" _atomcloud_pc_to_prefix "${_atomcloud_pc_to_prefix}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/atomcloud.pc.in
    ${CMAKE_CURRENT_BINARY_DIR}/atomcloud.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/atomcloud.pc
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
