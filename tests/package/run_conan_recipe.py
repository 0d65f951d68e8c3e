"""Runs packaging/conan/conanfile.py the way `conan create` does, against the stand-ins
in conan_shim/: export the sources, then requirements, layout, generate, build, package,
package_info. Prints a JSON summary for the packaging test to check.

    python3 run_conan_recipe.py <source-dir> <work-dir> <generator> <c++ compiler>
"""
import importlib.util
import json
import os
import shutil
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "conan_shim"))

source_dir, work, generator, cxx = sys.argv[1:5]
recipe_folder = os.path.join(source_dir, "packaging", "conan")
spec = importlib.util.spec_from_file_location("conanfile", os.path.join(recipe_folder, "conanfile.py"))
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

from conan import ConanFile  # noqa: E402  (the stand-in)

recipes = [v for v in vars(module).values()
           if isinstance(v, type) and issubclass(v, ConanFile) and v is not ConanFile]
assert len(recipes) == 1, "expected exactly one ConanFile subclass"

shutil.rmtree(work, ignore_errors=True)
recipe = recipes[0](recipe_folder)
recipe.build_root = os.path.join(work, "build-root")
recipe.export_sources_folder = os.path.join(work, "export_source")
recipe.package_folder = os.path.join(work, "package")
recipe.generator = generator
recipe.cxx_compiler = cxx

recipe.set_version()
recipe.export_sources()
# As in `conan create`, the build sees only the exported sources.
recipe.source_folder = recipe.export_sources_folder
recipe.config_options()
recipe.requirements()
recipe.layout()
recipe.generate()
recipe.build()
recipe.package()
recipe.package_info()

print(json.dumps({
    "name": recipe.name,
    "version": recipe.version,
    "requires": recipe.requirements_seen,
    "cmake_variables": recipe.cmake_variables_seen,
    "package_folder": recipe.package_folder,
    "builddirs": recipe.cpp_info.builddirs,
    "libs": recipe.cpp_info.libs,
    "defines": recipe.cpp_info.defines,
}))
