"""Helpers the vector generators share (gen_vectors.py, gen_vectors64.py,
gen_v2.py): assembling with nasm, the SIGFPE catcher of trap.c, and
writing a vector file."""
import ctypes
import gzip
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def assemble(text, bits=32):
    """The bytes nasm makes of `text` in `BITS bits`."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "a.asm")
        out = os.path.join(d, "a.bin")
        with open(src, "w") as f:
            f.write(f"BITS {bits}\n{text}\n")
        subprocess.run(["nasm", "-f", "bin", "-o", out, src], check=True)
        return open(out, "rb").read()


def load_trap():
    """trap.c, built with gcc as a shared library and loaded:
    run_guarded(fn, io, resume) calls fn(io), resumes at `resume` when the
    call takes a SIGFPE, and returns 1 when it did."""
    so = os.path.join(tempfile.mkdtemp(), "trap.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", so, os.path.join(HERE, "trap.c")],
                   check=True)
    trap = ctypes.CDLL(so)
    trap.run_guarded.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    trap.run_guarded.restype = ctypes.c_int
    return trap


def write_vectors(path, lines, what):
    """Writes `lines` gzip-compressed (reproducibly: no timestamp) to
    `path` and says how many `what` there are."""
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    print(len(lines), what)
