"""Emit the C source of the nnvisr bridge, a cffi embedding library.

Usage: python bridge_build.py OUTPUT.c

The library exports the C functions of nnvisr_bridge.h. Each one makes sure
the embedded interpreter runs inside the environment the package was
installed into, then calls its Python implementation in
nnvisr_core.bridge_api. meson compiles the emitted file with the header.
"""

from __future__ import annotations

import pathlib
import sys

import cffi

HERE = pathlib.Path(__file__).resolve().parent

# Types shared with the filter: copied from the header so there is one source.
HEADER = (HERE / "nnvisr_bridge.h").read_text()
TYPES = HEADER[HEADER.index("typedef void (*nnvisr_log_fn)") : HEADER.index("/* Returns NNVISR_BRIDGE_ABI")]

PY_FUNCTIONS = """
extern "Python" {
    int nnvisr_py_abi_version(void);
    int nnvisr_py_create(const char *const *, nnvisr_log_fn, void *, int64_t *);
    int nnvisr_py_pix_fmts(int64_t, char *, int);
    int nnvisr_py_configure(int64_t, NNVISRLinkConfig *);
    int nnvisr_py_push(int64_t, const NNVISRFrame *);
    int nnvisr_py_flush(int64_t, int64_t, int64_t *);
    int nnvisr_py_pull(int64_t, NNVISRFrame *);
    int nnvisr_py_destroy(int64_t);
}
const char *nnvisr_bridge_location(void);
void nnvisr_call_log(nnvisr_log_fn, void *, int, const char *);
"""

C_SOURCE = r"""
#define _GNU_SOURCE
#include <Python.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nnvisr_bridge.h"

static int nnvisr_py_abi_version(void);
static int nnvisr_py_create(const char *const *, nnvisr_log_fn, void *, int64_t *);
static int nnvisr_py_pix_fmts(int64_t, char *, int);
static int nnvisr_py_configure(int64_t, NNVISRLinkConfig *);
static int nnvisr_py_push(int64_t, const NNVISRFrame *);
static int nnvisr_py_flush(int64_t, int64_t, int64_t *);
static int nnvisr_py_pull(int64_t, NNVISRFrame *);
static int nnvisr_py_destroy(int64_t);

/* Path of this library, so Python can find the package installed with it. */
static const char *nnvisr_bridge_location(void)
{
    Dl_info info;
    if (dladdr((void *)&nnvisr_bridge_location, &info) && info.dli_fname)
        return info.dli_fname;
    return "";
}

/* Calling a C function pointer from Python through cffi costs a wrapper;
   this keeps the call in C. */
static void nnvisr_call_log(nnvisr_log_fn log, void *opaque, int level, const char *msg)
{
    if (log)
        log(opaque, level, msg);
}

/* The virtual environment this library was installed into: the closest
   parent folder holding pyvenv.cfg. Its python is the interpreter's program
   name, so sys.path is the environment's whatever python3 is on PATH. */
static int find_venv_python(char *out, size_t size)
{
    char dir[PATH_MAX];
    if (!realpath(nnvisr_bridge_location(), dir))
        return 0;
    for (int depth = 0; depth < 8; depth++) {
        char *slash = strrchr(dir, '/');
        char cfg[PATH_MAX + 16];
        if (!slash || slash == dir)
            return 0;
        *slash = 0;
        snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", dir);
        if (access(cfg, R_OK) == 0) {
            snprintf(out, size, "%s/bin/python3", dir);
            return access(out, X_OK) == 0;
        }
    }
    return 0;
}

static int nnvisr_python_ready;

static void boot_python(void)
{
    PyConfig config;
    PyStatus status;
    Dl_info info;
    char python[PATH_MAX];

    if (Py_IsInitialized()) {
        nnvisr_python_ready = 1;
        return;
    }
    /* Extension modules (numpy, onnxruntime, _cffi_backend) resolve
       libpython's symbols in the global scope, whoever loaded us. */
    if (dladdr((void *)&Py_IsInitialized, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);

    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;   /* SIGINT stays ffmpeg's */
    config.parse_argv = 0;
    if (find_venv_python(python, sizeof(python))) {
        status = PyConfig_SetBytesString(&config, &config.program_name, python);
        if (PyStatus_Exception(status))
            goto fail;
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status))
        goto fail;
    PyConfig_Clear(&config);
    PyEval_SaveThread();                  /* cffi takes the GIL per call */
    nnvisr_python_ready = 1;
    return;
fail:
    fprintf(stderr, "nnvisr bridge: cannot start Python: %s\n",
            status.err_msg ? status.err_msg : "unknown error");
    PyConfig_Clear(&config);
}

static int ensure_python(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, boot_python);
    return nnvisr_python_ready;
}

#define NNVISR_EXPORT __attribute__((visibility("default")))

NNVISR_EXPORT int nnvisr_abi_version(void)
{
    return ensure_python() ? nnvisr_py_abi_version() : 0;
}

NNVISR_EXPORT int nnvisr_create(const char *const *options, nnvisr_log_fn log,
                                void *log_opaque, int64_t *handle)
{
    return ensure_python() ? nnvisr_py_create(options, log, log_opaque, handle) : -1;
}

NNVISR_EXPORT int nnvisr_pix_fmts(int64_t handle, char *buf, int buf_size)
{
    return ensure_python() ? nnvisr_py_pix_fmts(handle, buf, buf_size) : -1;
}

NNVISR_EXPORT int nnvisr_configure(int64_t handle, NNVISRLinkConfig *cfg)
{
    return ensure_python() ? nnvisr_py_configure(handle, cfg) : -1;
}

NNVISR_EXPORT int nnvisr_push(int64_t handle, const NNVISRFrame *frame)
{
    return ensure_python() ? nnvisr_py_push(handle, frame) : -1;
}

NNVISR_EXPORT int nnvisr_flush(int64_t handle, int64_t eof_pts, int64_t *out_eof_pts)
{
    return ensure_python() ? nnvisr_py_flush(handle, eof_pts, out_eof_pts) : -1;
}

NNVISR_EXPORT int nnvisr_pull(int64_t handle, NNVISRFrame *frame)
{
    return ensure_python() ? nnvisr_py_pull(handle, frame) : -1;
}

NNVISR_EXPORT int nnvisr_destroy(int64_t handle)
{
    return ensure_python() ? nnvisr_py_destroy(handle) : -1;
}
"""

# Runs once, inside the embedded interpreter, at the first call.
INIT_CODE = """
import os
import site

from _nnvisr_bridge import ffi, lib

# The package lies next to this library; covers installs outside a venv.
_package_dir = os.path.dirname(os.path.realpath(ffi.string(lib.nnvisr_bridge_location()).decode()))
site.addsitedir(os.path.dirname(_package_dir))

from nnvisr_core import bridge_api

bridge_api.bind(ffi, lib)
"""


def build_ffi() -> cffi.FFI:
    ffi = cffi.FFI()
    ffi.cdef(TYPES)
    ffi.cdef(PY_FUNCTIONS)
    ffi.set_source("_nnvisr_bridge", C_SOURCE)
    ffi.embedding_init_code(INIT_CODE)
    return ffi


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build_ffi().emit_c_code(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
