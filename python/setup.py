"""Builds the wheel: `cargo build --release --lib` in the repository root (a no-op when
target/ is up to date), then copies the cdylib libh5z_apr.so into the h5z_apr package.

The wheel holds no Python extension module, only the plugin library loaded with ctypes, so
it is tagged py3-none-<platform>. Environment:
  H5Z_APR_LIB=/path/libh5z_apr.so   use that library instead of running cargo
  CARGO_TARGET_DIR                  as for cargo (default <repo>/target)
"""
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LIB = "libh5z_apr.so"


def built_library() -> Path:
    given = os.environ.get("H5Z_APR_LIB")
    if given:
        return Path(given)
    if not (REPO / "Cargo.toml").exists():
        raise SystemExit(f"h5z-apr: {REPO}/Cargo.toml not found; build the wheel from the git checkout")
    subprocess.run(["cargo", "build", "--release", "--lib"], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "release" / LIB


class BuildPyWithLib(build_py):
    def run(self):
        super().run()
        lib = built_library()
        if not lib.exists():
            raise SystemExit(f"h5z-apr: {lib} was not built")
        dst = Path(self.build_lib) / "h5z_apr" / LIB
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dst)
        # The release profile keeps line tables (debug = 1); the wheel does not need them.
        if shutil.which("strip"):
            subprocess.run(["strip", "--strip-debug", str(dst)], check=True)


class BinaryDistribution(Distribution):
    """Holds a native library: the wheel is platlib and platform-tagged."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", plat


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPyWithLib, "bdist_wheel": PlatformWheel})
