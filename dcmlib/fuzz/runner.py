"""Run one callable per case in a forked child (Linux) and classify what happened.

Each job runs in ``os.fork()``'s child with ``RLIMIT_AS`` (about 3 GiB) and no
core dumps; stdout and stderr (fds 1 and 2, so C libraries' output too) go to
files; the parent kills a child that outlives the wall-clock limit.  Up to
``jobs`` children run at once.  The outcome is one of :data:`CLASSES`:

- ``ok``: exit 0, the output (if any) valid, stderr only ``dcmview: warning:`` lines;
- ``clean-error``: exit 2 and exactly one ``dcmview: error: <file>: <problem>``
  line in DICOM words, no output file left behind;
- failures: ``traceback``, ``internal-error`` (the application's last-resort
  line for a bug: "internal error (ExceptionType)"), ``signal`` (e.g. SIGSEGV, SIGABRT), ``hang``,
  ``memory-error`` (MemoryError, std::bad_alloc), ``python-words`` (the error
  line speaks Python, not DICOM), ``partial-file-left``, ``unnamed-file`` (the
  error line does not name the file), ``python-warning`` (a Python warning on
  stderr), ``stderr-noise`` (other stderr lines, or not exactly one error
  line), ``bad-output`` (exit 0 without a valid output), ``bad-exit`` (another
  exit status).

Targets report through the CLI convention: exit status 0 or 2 and stderr lines;
a target that wants to report a wrong result exits with :data:`BAD_OUTPUT` and
one line saying why.
"""

from __future__ import annotations

import faulthandler
import io
import os
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from dcmlib.fuzz.mutate import Case

_K = TypeVar("_K")  # what a caller keys its jobs by

__all__ = [
    "CLASSES",
    "FAILURE_CLASSES",
    "BAD_OUTPUT",
    "MEMORY_LIMIT",
    "PYTHON_WORDS",
    "Job",
    "Result",
    "run_forked",
    "run_jobs",
    "classify",
    "classify_exit",
    "last_exception_line",
    "python_words",
    "cli_target",
    "table",
    "failures",
    "report",
]

CLASSES = (
    "ok",
    "clean-error",
    "traceback",
    "internal-error",
    "signal",
    "hang",
    "memory-error",
    "python-words",
    "partial-file-left",
    "unnamed-file",
    "python-warning",
    "stderr-noise",
    "bad-output",
    "bad-exit",
)
FAILURE_CLASSES = CLASSES[2:]

#: Exit status a target uses for "finished but the result is wrong" (with one stderr line).
BAD_OUTPUT = 3

#: Address-space limit of a child (bytes): 3 GiB, or 1 GiB above what the parent maps when that is more.
MEMORY_LIMIT = 3 << 30

ERROR_PREFIX = "dcmview: error: "
WARNING_PREFIX = "dcmview: warning: "

#: Phrases that give away a Python (or plugin) message instead of one in DICOM terms.
PYTHON_WORDS = tuple(
    re.compile(p)
    for p in (
        r"list index out of range",
        r"index -?\d+ is out of bounds",
        r"out of bounds for axis",
        r"invalid literal for",
        r"object has no attribute",
        r"NoneType",
        r"unpack requires a buffer",
        r"cannot reshape array",
        r"could not be broadcast",
        r"Alias '",
        r"\buint0\b",
        r"\b(?:gdcm|pillow|pylibjpeg|pyjpegls|pydicom|imagecodecs)\s*:",
        r"plugins?:",
        r"Unable to decode as exceptions",
        r"not subscriptable",
        r"unsupported operand",
        r"is not iterable",
        r"positional argument",
        r"argument must be",
        r"object is not callable",
        r"division by zero",
        r"math domain error",
        r"too many values to unpack",
        r"not enough values to unpack",
        r"\bint\(\)",
        r"\bfloat\(\)",
        r"\bdtype\b",
        r"\bndarray\b",
        r"\bnumpy\b",
        r"buffer size",
        r"bytes-like",
        r"codec can't",
        r"\[Errno \d+\]",
        r"maximum recursion",
        r"Python int",
        r"cannot convert float",
        r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b",
        r"struct\.error",
        r"<[\w.]+ object at 0x",
        r"__\w+__",
        r"\bkwargs\b",
        r"\bself\b",
        r"'(?:int|float|str|bytes|list|tuple|dict)'",
        r"\bTraceback\b",
        r"array of size",
        r"integer is required",
        r"overflow encountered",
        r"invalid value encountered",
        r"\bnp\.",
        r"\bufunc\b",
        r"\bsequence item\b",
        r"\biterator\b",
        r"\bcallable\b",
        r"\['|'\]|\(b'|\bb'\\x",  # a Python list / bytes repr
    )
)

#: An exception line that is an allocation failure (Python, OpenCV, C++).
_MEMORY = re.compile(r"^MemoryError|Insufficient memory|Failed to allocate|bad_alloc")

#: The application's last-resort line for an unexpected exception (a bug it caught).
_INTERNAL = re.compile(r"internal error")

_WARNING_LINE = re.compile(r"^(?:.*:\d+: )?\w*Warning: ")


@dataclass(frozen=True)
class Job:
    """What to run for one case in one mode.

    ``target`` runs in the child and returns the exit status; ``file`` is the
    input path the error line must name; ``output`` is a path that must hold a
    valid image after exit 0 (``check_output`` says whether it does: None when
    valid, else the problem) and must not exist after a failure; ``workdir``
    must hold nothing else afterwards (no temporary files left).
    """

    target: Callable[[], int | None]
    file: str | None = None
    output: str | None = None
    check_output: Callable[[str], str | None] | None = None
    workdir: str | None = None
    keep: tuple[str, ...] = ()  #: names in workdir that belong there (the input file)
    strict_stderr: bool = True  #: False: tolerate other stderr lines (C decoders) next to the error line
    expect_stdout: bool = False  #: exit 0 must print something (``--info``)
    inside: bool = False  #: ``file`` is a folder: the error line may name it or a file in it


@dataclass
class Result:
    """One case run in one mode, classified."""

    name: str
    kind: str
    mode: str
    klass: str
    detail: str
    status: int | None = None
    signal: int | None = None
    timed_out: bool = False
    elapsed: float = 0.0
    stderr: str = ""
    stdout: str = ""
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.klass in FAILURE_CLASSES


@dataclass
class _Raw:
    status: int | None
    signal: int | None
    timed_out: bool
    elapsed: float
    stdout: str = ""
    stderr: str = ""


def _address_space_limit(limit: int) -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return max(limit, int(line.split()[1]) * 1024 + (1 << 30))
    except OSError:
        pass
    return limit


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _fresh_warnings() -> None:
    """Warnings as a fresh interpreter shows them, on stderr (the parent may record them, as pytest does)."""
    warnings.resetwarnings()
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category, append=True)
    warnings.showwarning = _show_warning


def _child(target: Callable[[], int | None], out_path: str, err_path: str, limit: int) -> None:
    """In the forked child: redirect fds 0-2, set limits, run, and never return."""
    status = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, out_path), (2, err_path)):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)
        # Fresh Python streams on the new fds (the parent's may be pytest's capture objects).
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
        faulthandler.enable(file=sys.stderr)  # a fatal signal leaves its Python stack on stderr
        _fresh_warnings()
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        code = target()
        status = 0 if code is None else int(code)
    except SystemExit as exc:
        exit_code = exc.code
        status = 0 if exit_code is None else (exit_code if isinstance(exit_code, int) else 1)
        if not isinstance(exit_code, (int, type(None))):
            sys.stderr.write(f"{exit_code}\n")
    except BaseException:  # the whole point: report anything as a traceback
        try:
            traceback.print_exc()
        except BaseException:
            pass
        status = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(status & 0xFF)


def _start(target: Callable[[], int | None], out_path: str, err_path: str, limit: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        _child(target, out_path, err_path, limit)
    return pid


def _read_text(path: str, limit: int = 64 * 1024) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n[... truncated]" if len(data) > limit else "")


def _decode(status: int) -> tuple[int | None, int | None]:
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def run_forked(target: Callable[[], int | None], *, timeout: float = 20.0, memory: int = MEMORY_LIMIT) -> _Raw:
    """Run ``target`` once in a forked child; its exit status or signal, stdout and stderr."""
    job = Job(target)
    return next(iter(_run_many([("", job)], jobs=1, timeout=timeout, memory=memory)))[1]


def _run_many(items: Iterable[tuple[_K, Job]], *, jobs: int, timeout: float, memory: int) -> Iterator[tuple[_K, _Raw]]:
    """Run jobs in forked children, a few at a time, with a wall-clock kill."""
    limit = _address_space_limit(memory)
    scratch = tempfile.mkdtemp(prefix="dcmfuzz-io-")
    running: dict[int, tuple[_K, float, int | None, str, str]] = {}  # pid -> (key, start, pidfd, out, err)
    pending = iter(items)
    exhausted = False
    counter = 0
    try:
        while True:
            while not exhausted and len(running) < max(jobs, 1):
                try:
                    key, job = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                counter += 1
                out, err = os.path.join(scratch, f"{counter}.out"), os.path.join(scratch, f"{counter}.err")
                pid = _start(job.target, out, err, limit)
                try:
                    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
                except OSError:
                    pidfd = None
                running[pid] = (key, time.monotonic(), pidfd, out, err)
            if not running:
                break
            now = time.monotonic()
            wait = max(0.0, min(start + timeout for _, start, _, _, _ in running.values()) - now)
            fds = [v[2] for v in running.values() if v[2] is not None]
            if fds and len(fds) == len(running):
                select.select(fds, [], [], wait)
            else:
                time.sleep(min(wait, 0.005))
            now = time.monotonic()
            for pid in list(running):
                key, start, pidfd, out, err = running[pid]
                done, status = os.waitpid(pid, os.WNOHANG)
                timed_out = False
                if done == 0:
                    if now - start < timeout:
                        continue
                    os.kill(pid, signal.SIGKILL)
                    _, status = os.waitpid(pid, 0)
                    timed_out = True
                elapsed = time.monotonic() - start
                if pidfd is not None:
                    os.close(pidfd)
                del running[pid]
                code, sig = _decode(status)
                raw = _Raw(code, sig, timed_out, elapsed, _read_text(out), _read_text(err))
                for path in (out, err):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
                yield key, raw
    finally:
        for pid, (_, _, pidfd, _, _) in running.items():  # interrupted: leave no child behind
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            if pidfd is not None:
                os.close(pidfd)
        shutil.rmtree(scratch, ignore_errors=True)


def python_words(message: str) -> str | None:
    """The first Python-ish phrase in ``message``, or None."""
    for pattern in PYTHON_WORDS:
        m = pattern.search(message)
        if m:
            return m.group(0)
    return None


def exception_line(exc: BaseException) -> str:
    """``Type: message`` on one line (at most 200 characters)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 200 else text[:197] + "..."


def last_exception_line(stderr: str) -> str:
    """The exception line of the last traceback on ``stderr`` ("" when there is none)."""
    return _last_traceback_line(stderr) if "Traceback (most recent call last)" in stderr else ""


def _last_traceback_line(stderr: str) -> str:
    """The exception line of the last traceback (the first unindented line after its frames)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    i = max((n for n, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")), default=None)
    if i is None:
        return lines[-1].strip() if lines else ""
    for ln in lines[i + 1 :]:
        if not ln.startswith((" ", "\t")):
            return ln.strip()
    return lines[-1].strip()


def classify(raw: _Raw, job: Job) -> tuple[str, str]:
    """(class, detail) for one run: see :data:`CLASSES`."""
    err = raw.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else ""
    if raw.timed_out:
        return "hang", f"killed after {raw.elapsed:.1f} s"
    if raw.signal is not None:
        name = signal.Signals(raw.signal).name if raw.signal in signal.Signals._value2member_map_ else str(raw.signal)
        if "bad_alloc" in err or "MemoryError" in err:
            return "memory-error", f"{name}: {last}"
        fatal = next((ln for ln in lines if ln.startswith("Fatal Python error")), "")
        return "signal", f"{name}{': ' + fatal if fatal else ''}{' / ' + last if last and last != fatal else ''}"
    if "Traceback (most recent call last)" in err:
        exc = _last_traceback_line(err)
        return ("memory-error" if _MEMORY.search(exc) else "traceback"), exc
    if "bad_alloc" in err:
        return "memory-error", last
    leftovers = []
    if job.workdir is not None:
        try:
            leftovers = sorted(
                set(os.listdir(job.workdir))
                - set(job.keep)
                - ({os.path.basename(job.output)} if job.output and raw.status == 0 else set())
            )
        except OSError:
            leftovers = []
    if job.output is not None and raw.status != 0 and os.path.exists(job.output):
        leftovers = sorted(set(leftovers) | {os.path.basename(job.output)})
    others = [ln for ln in lines if not ln.startswith((ERROR_PREFIX, WARNING_PREFIX))]
    warns = [ln for ln in others if _WARNING_LINE.match(ln)]
    if raw.status == 0:
        if leftovers:
            return "partial-file-left", f"exit 0 but left {leftovers}"
        if warns:
            return "python-warning", warns[0].strip()
        if others and job.strict_stderr:
            return "stderr-noise", f"exit 0 with stderr: {others[0].strip()}"
        if job.expect_stdout and not raw.stdout.strip():
            return "bad-output", "exit 0 with nothing on stdout"
        if job.output is not None:
            problem = (
                job.check_output(job.output)
                if job.check_output
                else (None if os.path.exists(job.output) else "no output file")
            )
            if problem:
                return "bad-output", problem
        return "ok", ""
    if raw.status == BAD_OUTPUT:
        return "bad-output", last
    if raw.status != 2:
        return "bad-exit", f"exit {raw.status}: {last}"
    errors = [ln for ln in lines if ln.startswith(ERROR_PREFIX)]
    if leftovers:
        return "partial-file-left", f"left {leftovers}; {errors[0] if errors else last}"
    if warns:
        return "python-warning", warns[0].strip()
    if len(errors) != 1 or (others and job.strict_stderr):
        return (
            "stderr-noise",
            f"{len(errors)} error line(s), {len(others)} other line(s): {(others or errors or [''])[0]}",
        )
    line = errors[0].rstrip("\n")
    message = line[len(ERROR_PREFIX) :]
    if _INTERNAL.search(message):
        return "internal-error", line
    problem = message
    if job.file is not None:
        folder = job.file.rstrip(os.sep) + os.sep
        if message.startswith(f"{job.file}: "):
            problem = message[len(job.file) + 2 :]
        elif job.inside and message.startswith(folder) and ": " in message[len(folder) :]:
            problem = message[message.index(": ", len(folder)) + 2 :]
        else:
            return "unnamed-file", line
    words = python_words(problem)
    if words:
        return "python-words", line
    return "clean-error", line


def classify_exit(returncode: int, stdout: str, stderr: str, job: Job, *, timed_out: bool = False) -> tuple[str, str]:
    """:func:`classify` for a process run another way (``subprocess``: a negative return code is a signal)."""
    code, sig = (None, -returncode) if returncode < 0 else (returncode, None)
    return classify(_Raw(code, sig, timed_out, 0.0, stdout or "", stderr or ""), job)


def run_jobs(
    items: Iterable[tuple[Case, str, Job]], *, jobs: int = 2, timeout: float = 20.0, memory: int = MEMORY_LIMIT
) -> list[Result]:
    """Run ``(case, mode, job)`` items, ``jobs`` at a time; the results in input order."""
    keyed = []

    def feed():
        for n, (case, mode, job) in enumerate(items):
            keyed.append((case, mode, job))
            yield n, job

    results: dict[int, Result] = {}
    for n, raw in _run_many(feed(), jobs=jobs, timeout=timeout, memory=memory):
        case, mode, job = keyed[n]
        klass, detail = classify(raw, job)
        results[n] = Result(
            case.name,
            case.kind,
            mode,
            klass,
            detail,
            raw.status,
            raw.signal,
            raw.timed_out,
            raw.elapsed,
            raw.stderr,
            raw.stdout,
            case.note,
        )
        if job.workdir is not None:
            for entry in os.listdir(job.workdir):
                if entry not in job.keep:
                    path = os.path.join(job.workdir, entry)
                    if os.path.isdir(path):
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
    return [results[n] for n in sorted(results)]


def cli_target(main: Callable[[list[str]], int | None], argv: list[str]) -> Callable[[], int | None]:
    """A target running an application's ``main(argv)`` (the caller passes it in: no app import here)."""

    def run() -> int | None:
        return main(list(argv))

    return run


# ----------------------------------------------------------------------------- reports


def table(results: list[Result]) -> str:
    """Counts per class (columns) and per mutation kind (rows), with totals."""
    present = [c for c in CLASSES if any(r.klass == c for r in results)]
    by_kind: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_kind[r.kind][r.klass] += 1
    total = Counter(r.klass for r in results)
    width = max([len("kind"), len("total")] + [len(k) for k in by_kind])
    cols = [max(len(c), 4) for c in present]
    head = f"{'kind':<{width}}" + "".join(f" {c:>{w}}" for c, w in zip(present, cols)) + f" {'runs':>5}"
    rows = [head, "-" * len(head)]
    for kind in sorted(by_kind):
        cnt = by_kind[kind]
        rows.append(
            f"{kind:<{width}}"
            + "".join(f" {cnt[c] or '.':>{w}}" for c, w in zip(present, cols))
            + f" {sum(cnt.values()):>5}"
        )
    rows.append("-" * len(head))
    rows.append(
        f"{'total':<{width}}" + "".join(f" {total[c]:>{w}}" for c, w in zip(present, cols)) + f" {len(results):>5}"
    )
    return "\n".join(rows)


def failures(results: list[Result]) -> list[Result]:
    return [r for r in results if r.failed]


def _signature(r: Result) -> str:
    """A failure's problem with file names, numbers and addresses blanked: one line per distinct bug."""
    text = r.detail
    text = re.sub(r"dcmview: error: \S+?: ", "dcmview: error: <file>: ", text)
    text = text.replace("; run again with --debug and report it", "")
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    text = re.sub(r"\d+", "N", text)
    return f"{r.klass}: {text[:150]}"


def distinct(results: list[Result]) -> list[tuple[str, int, Result]]:
    """Failures grouped by signature: (signature, count, first example), most frequent first."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in failures(results):
        groups[_signature(r)].append(r)
    return sorted(((s, len(g), g[0]) for s, g in groups.items()), key=lambda t: (-t[1], t[0]))


def report(results: list[Result], *, full: int = 30, stderr_lines: int = 6, slow: float = 5.0) -> str:
    """The table, runs slower than ``slow`` seconds, the distinct problems with one example each,
    then every failing case."""
    out = [table(results), ""]
    slowest = sorted((r for r in results if r.elapsed > slow and r.klass != "hang"), key=lambda r: -r.elapsed)
    if slowest:
        out.append(f"{len(slowest)} run(s) slower than {slow:g} s (not failures):")
        out.extend(f"  {r.elapsed:6.1f} s  {r.name} [{r.mode}] {r.klass} ({r.note})" for r in slowest[:10])
        out.append("")
    groups = distinct(results)
    if groups:
        out.append(f"{len(groups)} distinct problems:")
        for sig, count, r in groups:
            out.append(f"  [{count:>3}] {sig}")
            out.append(f"        e.g. {r.name} ({r.mode}; {r.note})")
        out.append("")
        bad = failures(results)
        out.append(f"{len(bad)} failing runs:")
        for n, r in enumerate(bad):
            out.append(f"- {r.name} [{r.mode}] {r.klass}: {r.detail}")
            if n < full and r.stderr.strip():
                tail = r.stderr.strip().splitlines()[-stderr_lines:]
                out.extend(f"    | {ln}" for ln in tail)
    return "\n".join(out)
