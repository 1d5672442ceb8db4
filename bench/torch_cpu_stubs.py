#!/usr/bin/python3
"""Stub libraries that let PyPI's CUDA build of torch 2.x load on a CPU-only machine.

PyPI's Linux torch wheel is one build for CPU and CUDA: libtorch.so needs libtorch_cuda.so, which
needs the CUDA libraries (libcudart, libcublas, libcudnn, ... and libcufile, libcusparseLt,
libnvshmem_host), normally installed as the nvidia-* wheels (gigabytes). Without them `import
torch` fails ("libcufile.so.0: cannot open shared object file"). On the CPU none of them is ever
called, so for each library the loader cannot find this writes a small stand-in with the same
soname defining every symbol torch's libraries want from it (with its symbol version, e.g.
NVSHMEM); each aborts with a message naming itself if it is ever called. Libraries that do exist
(this machine's CUDA toolkit in /usr/local/cuda-13.0, say) are used as they are.

Usage: torch_cpu_stubs.py SITE_PACKAGES OUTDIR   (then run torch with LD_LIBRARY_PATH=OUTDIR;
bench/peers_env.sh does this and writes the variable into .venv-peers/peers.env). Needs gcc, nm,
readelf and ldd. Prints the sonames it stubbed.
"""

import glob
import os
import re
import subprocess
import sys


def run(*cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    site, outdir = sys.argv[1], os.path.abspath(sys.argv[2])
    torch_libs = sorted(glob.glob(os.path.join(site, "torch", "lib", "*.so*")) +
                        glob.glob(os.path.join(site, "torch", "_C*.so")))
    if not torch_libs:
        print(f"no torch libraries under {site}/torch", file=sys.stderr)
        return 1
    # ldd without our own stubs: which sonames are missing, and where the others are.
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(p for p in env.get("LD_LIBRARY_PATH", "").split(":")
                                      if p and os.path.abspath(p) != outdir)
    # The driver (libcuda.so.1) is never stubbed: the CUDA runtime dlopens it to ask whether
    # there is a GPU, and a stand-in would turn "no" into an abort. Only libcaffe2_nvrtc.so, which
    # torch loads on demand, links it.
    missing, found, lib_missing = set(), set(torch_libs), {}
    for lib in torch_libs:
        for line in run("ldd", lib, env=env).splitlines():
            m = re.match(r"\s*(\S+) => (.*?)( \(0x[0-9a-f]+\))?$", line)
            if not m:
                continue
            if m.group(2) == "not found" and not m.group(1).startswith("libcuda.so"):
                missing.add(m.group(1))
                lib_missing.setdefault(lib, set()).add(m.group(1))
            elif m.group(2).startswith("/"):
                found.add(m.group(2))
    if not missing:
        print("nothing missing: torch loads as installed")
        return 0
    defined = set()
    for lib in found:
        for line in run("nm", "-D", "--defined-only", lib).splitlines():
            defined.add(line.split()[-1].split("@")[0])
    # Which file defines each symbol version torch asks for (readelf's "Version needs" section).
    version_file = {}
    for lib in torch_libs:
        current = None
        for line in run("readelf", "-V", lib).splitlines():
            m = re.search(r"File: (\S+)", line)
            if m:
                current = m.group(1)
            m = re.search(r"Name: (\S+)\s+Flags", line)
            if m and current:
                version_file[m.group(1)] = current
    wanted = {name: {} for name in missing}  # soname -> {symbol: version or None}
    for lib in torch_libs:
        if lib not in lib_missing:
            continue  # it loads as it is (or needs only the driver)
        for line in run("nm", "-D", "--undefined-only", lib).splitlines():
            kind, symbol = line.split()[-2:]
            if kind == "w":
                continue  # weak: may stay undefined
            name, _, version = symbol.partition("@")
            if name in defined:
                continue
            soname = version_file.get(version) if version else None
            if soname in missing:
                wanted[soname][name] = version
            else:
                # Unversioned: it binds to whichever loaded library defines it, so every stub
                # this library links defines it.
                for soname in lib_missing[lib]:
                    wanted[soname].setdefault(name, None)
    os.makedirs(outdir, exist_ok=True)
    for soname, symbols in sorted(wanted.items()):
        c_path = os.path.join(outdir, soname + ".c")
        with open(c_path, "w") as c:
            c.write("/* Written by bench/torch_cpu_stubs.py: a stand-in for a CUDA library that\n"
                    "   PyPI's torch links but never calls on the CPU. */\n"
                    "#include <stdio.h>\n#include <stdlib.h>\n"
                    "static void stub(const char *name) {\n"
                    f"  fprintf(stderr, \"%s: stub from bench/torch_cpu_stubs.py called ({soname} "
                    "is not installed)\\n\", name);\n  abort();\n}\n")
            for name in sorted(symbols):
                c.write(f"void {name}(void) {{ stub(\"{name}\"); }}\n")
        command = ["gcc", "-shared", "-fPIC", "-O1", f"-Wl,-soname,{soname}", "-o",
                   os.path.join(outdir, soname), c_path]
        versions = sorted({v for v in symbols.values() if v})
        if versions:
            map_path = os.path.join(outdir, soname + ".map")
            with open(map_path, "w") as m:
                for v in versions:
                    names = " ".join(f"{n};" for n, ver in sorted(symbols.items()) if ver == v)
                    m.write(f"{v} {{ global: {names} }};\n")
            command.insert(-1, f"-Wl,--version-script={map_path}")
        subprocess.run(command, check=True)
        print(f"stub {soname}: {len(symbols)} symbols")
    return 0


if __name__ == "__main__":
    sys.exit(main())
