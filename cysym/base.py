"""Errors, dtype codes and the codecs for MXNet's string-valued attributes."""
import ast
import contextlib
import os
import secrets
import stat

import numpy as np

__all__ = ["MXNetError", "NotImplementedForSymbol", "OperatorError", "ShapeError", "TypeInferenceError", "JSONFormatError",
           "ParamsFormatError", "BindError", "DTYPE_TO_CODE", "CODE_TO_DTYPE", "dtype_code",
           "dtype_from_code", "format_value", "parse_tuple", "parse_bool", "atomic_write",
           "mx_real_t", "py_str", "string_types", "numeric_types", "integer_types"]

# What MXNet code imports from mxnet.base
mx_real_t = np.float32
string_types = (str,)
numeric_types = (float, int, np.generic)
integer_types = (int, np.int32, np.int64)


def py_str(x):
    """bytes from a C API -> str."""
    return x.decode("utf-8")


class MXNetError(RuntimeError):
    """Base class of every error cysym raises for bad input (MXNet's name, so `except` clauses port)."""


class NotImplementedForSymbol(MXNetError):
    """An NDArray-only function (or operator such as `bool`) was applied to a Symbol."""

    def __init__(self, function, alias, *args):
        super().__init__()
        self.function = function.__name__
        self.alias = alias
        self.args = [str(type(a)) for a in args]

    def __str__(self):
        msg = f"Function {self.function}"
        if self.alias:
            msg += f' (namely operator "{self.alias}")'
        if self.args:
            msg += f" with arguments ({', '.join(self.args)})"
        return msg + " is not implemented for Symbol and only available in NDArray."


class OperatorError(MXNetError, ValueError):
    """An operator was given an unknown parameter, a bad value, or the wrong inputs."""


class ShapeError(MXNetError, ValueError):
    """Shapes are inconsistent or cannot be inferred."""


class TypeInferenceError(MXNetError, TypeError):
    """Dtypes are inconsistent or unsupported."""


class JSONFormatError(MXNetError, ValueError):
    """A symbol JSON file is malformed or refers to something that does not exist."""


class ParamsFormatError(MXNetError, ValueError):
    """A binary .params / .nd file is malformed, truncated or unsupported."""


class BindError(MXNetError, ValueError):
    """bind / simple_bind got missing, extra or mismatched arrays."""


# MXNet's mshadow type flags, as written in .params files and in `__dtype__` attributes.
DTYPE_TO_CODE = {
    np.dtype(np.float32): 0,
    np.dtype(np.float64): 1,
    np.dtype(np.float16): 2,
    np.dtype(np.uint8): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int8): 5,
    np.dtype(np.int64): 6,
    np.dtype(np.bool_): 7,
}
CODE_TO_DTYPE = {code: dtype for dtype, code in DTYPE_TO_CODE.items()}


def dtype_code(dtype):
    """MXNet's integer type flag for a NumPy dtype (or anything np.dtype accepts)."""
    try:
        return DTYPE_TO_CODE[np.dtype(dtype)]
    except (KeyError, TypeError) as err:
        raise TypeInferenceError(f"dtype {dtype!r} is not supported; supported: "
                                 f"{sorted(str(d) for d in DTYPE_TO_CODE)}") from err


def dtype_from_code(code):
    """The NumPy dtype of MXNet's type flag ``code``; TypeInferenceError for an unknown flag."""
    try:
        return CODE_TO_DTYPE[int(code)]
    except (KeyError, ValueError) as err:
        raise TypeInferenceError(f"unknown MXNet type flag {code!r}") from err


def format_value(value):
    """The string MXNet stores for an attribute value: str() of the Python value.

    Lists become tuples so that `kernel=[3, 3]` and `kernel=(3, 3)` save the same.
    """
    if isinstance(value, (list, tuple)):
        # NumPy 2 prints np.int64(3) inside a tuple: store plain numbers, which MXNet parses
        value = tuple(v.item() if isinstance(v, np.generic) else v for v in value)
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def parse_tuple(text):
    """'(3, 3)', '[3,3]', '3' or '(None, 2)' -> tuple of ints (None kept)."""
    if isinstance(text, (tuple, list)):
        values = tuple(text)
    else:
        text = str(text).strip()
        if text in ("", "()", "[]"):
            return ()
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError) as err:
            raise ValueError(f"expected a tuple of integers, got {text!r}") from err
        values = parsed if isinstance(parsed, (tuple, list)) else (parsed,)
    result = []
    for v in values:
        if v is None:
            result.append(None)
        elif isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"expected a tuple of integers, got {text!r}")
        else:
            result.append(int(v))
    return tuple(result)


def parse_bool(text):
    """A boolean from MXNet's attribute forms (True/False, true/false, 1/0); ValueError otherwise."""
    if isinstance(text, (bool, np.bool_)):
        return bool(text)
    if isinstance(text, (int, np.integer)) and text in (0, 1):
        return bool(text)
    lowered = str(text).strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"expected a boolean, got {text!r}")


def atomic_write(fname, data):
    """Write bytes or text to fname durably and atomically: into a temporary file beside it
    (`.<name>.cysym-tmp-<pid>-<random>`), fsync'd, renamed over fname, then the directory fsync'd.
    A failure or a kill part-way leaves any existing file untouched, and a power loss leaves the
    old file or the new one. The file gets the permissions open() would give it (the umask, or
    the mode of the file it replaces). Temporary files that killed saves of fname left behind
    (their process is gone) are removed first."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory, base = os.path.split(os.path.abspath(fname))
    _remove_stale_temporaries(directory, base)
    tmp = os.path.join(directory, f".{base}{_TMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                os.fchmod(f.fileno(), stat.S_IMODE(os.stat(fname).st_mode))
            except FileNotFoundError:
                pass
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())        # the data is on disk before the name points at it
        os.replace(tmp, fname)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)         # and the rename itself survives a power loss


_TMP_INFIX = ".cysym-tmp-"


def _remove_stale_temporaries(directory, base):
    """Delete `.<base>.cysym-tmp-<pid>-*` files whose writing process no longer exists."""
    prefix = f".{base}{_TMP_INFIX}"
    try:
        names = [name for name in os.listdir(directory) if name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].partition("-")[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _process_exists(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                     # PermissionError: it exists, as another user's
        return True
    return True


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:                     # some file systems cannot sync a directory
        pass
    finally:
        os.close(fd)
