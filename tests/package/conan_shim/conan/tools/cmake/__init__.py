"""Stand-ins for conan.tools.cmake: the toolchain writes the recipe's variables into a
toolchain file, and CMake runs the real configure, build and install with it."""
import os
import subprocess


def cmake_layout(conanfile):
    build_type = str(conanfile.settings.build_type)
    conanfile.build_folder = os.path.join(conanfile.build_root, "build", build_type)
    conanfile.generators_folder = os.path.join(conanfile.build_folder, "generators")


class CMakeToolchain:
    def __init__(self, conanfile):
        self._conanfile = conanfile
        self.variables = {}

    def generate(self):
        folder = self._conanfile.generators_folder
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "conan_toolchain.cmake"), "w", encoding="utf-8") as f:
            for name, value in self.variables.items():
                f.write(f'set({name} "{value}" CACHE STRING "" FORCE)\n')
        self._conanfile.cmake_variables_seen = dict(self.variables)


class CMakeDeps:
    def __init__(self, conanfile):
        self._conanfile = conanfile

    def generate(self):
        # Dependencies come from the system in this test; nothing to generate.
        self._conanfile.cmake_deps_generated = True


class CMake:
    def __init__(self, conanfile):
        self._c = conanfile

    def _run(self, *args):
        subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL)

    def configure(self):
        c = self._c
        self._run("cmake", "-S", c.source_folder, "-B", c.build_folder, "-G", c.generator,
                  f"-DCMAKE_CXX_COMPILER={c.cxx_compiler}",
                  f"-DCMAKE_TOOLCHAIN_FILE={os.path.join(c.generators_folder, 'conan_toolchain.cmake')}",
                  f"-DCMAKE_BUILD_TYPE={c.settings.build_type}",
                  # The stand-in's profile compiles without optimisation, in one unity
                  # translation unit: this checks the recipe's steps and options, and
                  # -O0 halves the time the test takes (the unity build saves a quarter
                  # of the rest).
                  "-DCMAKE_CXX_FLAGS_RELEASE=-DNDEBUG", "-DCMAKE_UNITY_BUILD=ON",
                  f"-DCMAKE_INSTALL_PREFIX={c.package_folder}")

    def build(self):
        self._run("cmake", "--build", self._c.build_folder, "-j2")

    def install(self):
        self._run("cmake", "--install", self._c.build_folder, "--prefix", self._c.package_folder)
