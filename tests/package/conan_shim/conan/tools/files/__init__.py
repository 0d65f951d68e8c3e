"""Stand-ins for conan.tools.files: copy() and load()."""
import fnmatch
import os
import shutil


def copy(conanfile, pattern, src, dst):
    copied = []
    for root, _dirs, files in os.walk(src):
        for f in files:
            full = os.path.join(root, f)
            rel = os.path.relpath(full, src)
            if fnmatch.fnmatch(rel, pattern):
                target = os.path.join(dst, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(full, target)
                copied.append(target)
    return copied


def load(conanfile, path):
    with open(path, encoding="utf-8") as f:
        return f.read()
