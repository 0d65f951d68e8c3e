"""Stand-ins for the parts of Conan 2's API that packaging/conan/conanfile.py uses.

They perform the real steps (copying sources, CMake configure/build/install) so the
recipe's own logic builds the package, without Conan or its package registry. Only
for atomcloud's packaging test.
"""


class _Values:
    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self._values[name] = value

    def __delattr__(self, name):
        del self._values[name]

    def items(self):
        return self._values.items()


class ConanFile:
    name = None
    version = None
    settings = ()
    options = {}
    default_options = {}
    exports_sources = ()

    def __init__(self, recipe_folder, option_values=None, settings=None):
        self.recipe_folder = recipe_folder
        merged = dict(type(self).default_options)
        merged.update(option_values or {})
        self.options = _Values(merged)
        self.settings = _Values(settings or {"os": "Linux", "arch": "x86_64",
                                             "compiler": "gcc", "build_type": "Release"})
        self.requirements_seen = []
        self.export_sources_folder = None
        self.source_folder = None
        self.build_folder = None
        self.generators_folder = None
        self.package_folder = None
        self.cpp_info = _CppInfo()

    def requires(self, reference):
        self.requirements_seen.append(reference)


class _CppInfo:
    def __init__(self):
        self.properties = {}
        self.builddirs = []
        self.libs = []
        self.defines = []
        self.system_libs = []

    def set_property(self, name, value):
        self.properties[name] = value
