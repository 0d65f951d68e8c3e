"""Conan 2 recipe for atomcloud, built from this source tree.

    conan create packaging/conan --build=missing
    conan create packaging/conan -o "atomcloud/*:tools=True"   # with the CLI and emulator

The package carries atomcloud's own CMake config (find_package(atomcloud CONFIG)) and
pkg-config file; tests/package runs this recipe's steps and builds a consumer against
the result.
"""
import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load


class AtomcloudConan(ConanFile):
    name = "atomcloud"
    license = "BSL-1.0"
    description = ("C++ SDK for ALIENTEK's Atom Cloud (cloud.alientek.com): HTTPS REST "
                   "client, WebSocket session, frame codec")
    topics = ("iot", "alientek", "websocket", "asio", "beast")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False], "tools": [True, False]}
    # Boost.URL is compiled and linked (the base and proxy URLs).
    default_options = {"shared": False, "fPIC": True, "tools": False, "boost/*:without_url": False}
    exports_sources = ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*", "tools/*")

    # The CMake cache variables of the build (the vcpkg port passes the same ones).
    cmake_variables = {
        "ATOMCLOUD_BUILD_TESTS": "OFF",
        "ATOMCLOUD_BUILD_EXAMPLES": "OFF",
        "ATOMCLOUD_BUILD_BENCH": "OFF",
        "ATOMCLOUD_BUILD_FUZZ": "OFF",
        "ATOMCLOUD_WERROR": "OFF",
    }

    def set_version(self):
        # The version lives in one place: include/atomcloud/detail/config.hpp.
        root = os.path.join(self.recipe_folder, "..", "..")
        if not os.path.exists(os.path.join(root, "include")):
            root = self.recipe_folder
        text = load(self, os.path.join(root, "include", "atomcloud", "detail", "config.hpp"))
        for line in text.splitlines():
            if line.startswith("#define ATOMCLOUD_VERSION_STRING"):
                self.version = line.split('"')[1]

    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..", "..")
        for pattern in self.exports_sources:
            copy(self, pattern, root, self.export_sources_folder)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def requirements(self):
        self.requires("boost/[>=1.81.0]")
        self.requires("openssl/[>=3.0 <4]")
        self.requires("nlohmann_json/[>=3.10]")
        if self.options.tools:
            self.requires("cli11/[>=2.1]")
            self.requires("sqlite3/[>=3.35]")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        tc = CMakeToolchain(self)
        for name, value in self.cmake_variables.items():
            tc.variables[name] = value
        tc.variables["ATOMCLOUD_BUILD_TOOLS"] = "ON" if self.options.tools else "OFF"
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()

    def package_info(self):
        # Consumers use the package's own atomcloudConfig.cmake (its targets are
        # atomcloud::atomcloud, atomcloud::header_only and, with tools, atomcloud::emulator).
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs.append(os.path.join("lib", "cmake", "atomcloud"))
        self.cpp_info.set_property("pkg_config_name", "atomcloud")
        self.cpp_info.libs = ["atomcloud"]
        self.cpp_info.defines = ["ATOMCLOUD_SEPARATE_COMPILATION"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
