# vcpkg overlay port building atomcloud from this source tree:
#
#   vcpkg install atomcloud --overlay-ports=<atomcloud>/packaging/vcpkg
#   vcpkg install "atomcloud[tools]" --overlay-ports=...   # also the CLI and the emulator
#
# tests/package runs this file's steps (configure with these options, build, install)
# and builds a consumer against the result.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        tools ATOMCLOUD_BUILD_TOOLS
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DATOMCLOUD_BUILD_TESTS=OFF
        -DATOMCLOUD_BUILD_EXAMPLES=OFF
        -DATOMCLOUD_BUILD_BENCH=OFF
        -DATOMCLOUD_BUILD_FUZZ=OFF
        -DATOMCLOUD_WERROR=OFF
        -DATOMCLOUD_INSTALL_CMAKEDIR=share/atomcloud
        ${FEATURE_OPTIONS}
)

vcpkg_cmake_install()
vcpkg_cmake_config_fixup()
vcpkg_fixup_pkgconfig()

if("tools" IN_LIST FEATURES)
    vcpkg_copy_tools(TOOL_NAMES atomcloud atomcloud-emulator AUTO_CLEAN)
endif()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include" "${CURRENT_PACKAGES_DIR}/debug/share")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
