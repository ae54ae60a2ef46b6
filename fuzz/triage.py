#!/usr/bin/env python3
"""Sort fuzzing findings by whose code failed: rlekf's or a library's (libhdf5, ...).

Usage: fuzz/triage.py EXE FILE...
Reruns every input alone under the fuzzing options (full malloc stacks) and prints one line each:
    <file>  <verdict>  <kind>  <where>
verdict: "rlekf" (the first frame of the report outside the sanitizer, libFuzzer and libc is
rlekf code, or the harness's contract check failed: fix it), "lib:<name>" (that frame is in a
shared library such as libhdf5; <where> also names the rlekf frame that called into it), "ok"
(the input does not fail when run alone: the finding depended on an earlier input's state), or
"timeout" when a rerun hangs without even libFuzzer's own timeout report. For a leak, a leak is
the library's only if the allocation happened inside the library. Exit status: 1 if any input is
"rlekf", else 0.
"""
import os
import re
import subprocess
import sys

TIMEOUT = int(os.environ.get("FUZZ_TIMEOUT", "10"))
RSS_MB = int(os.environ.get("FUZZ_RSS_MB", "2048"))
# Frames of the sanitizer runtime, libFuzzer, libc and the intercepted libc calls.
RUNTIME_FUNCS = {"main", "malloc", "calloc", "realloc", "free", "memcpy", "memmove", "memset", "memcmp",
                 "strlen", "strcmp", "strncmp", "strdup", "__libc_start_main", "__libc_start_call_main",
                 "_start", "LLVMFuzzerTestOneInput"}
RUNTIME = re.compile(r"(fuzzer::|__interceptor|__sanitizer|__asan|__lsan|__ubsan|libc\.so|csu/|"
                     r"/libc_start|sysdeps/|(^|[ /])string/|^__mem|^__str)")
FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ (?:in (\S+) )?(.*)$")
REPORT = re.compile(r"(ERROR: AddressSanitizer: requested allocation size"
                    r"|ERROR: AddressSanitizer: [\w-]+|ERROR: LeakSanitizer|runtime error: .*"
                    r"|ALARM: working on the last Unit|out-of-memory \(malloc\(\d+\)\)"
                    r"|contract broken: .*|deadly signal)")


def frames(lines, start):
    """The stack frames following line index start: [(function, location)]."""
    out = []
    seen = False
    for line in lines[start + 1:]:
        m = FRAME.match(line)
        if m:
            seen = True
            out.append((m.group(1) or "?", m.group(2)))
        elif seen:
            break
    return out


def owner(loc):
    """'lib:<name>' for a frame in a shared library other than the runtime, else 'rlekf'."""
    m = re.search(r"\((/[^)+]*/)?(lib[\w.+-]+\.so[\w.]*)\+0x", loc)
    return "lib:" + m.group(2) if m else "rlekf"


def runtime(func, loc):
    return func in RUNTIME_FUNCS or bool(RUNTIME.search(func + " " + loc))


def where(stack):
    """Verdict and location of the first frame outside the runtime."""
    user = [(f, l) for f, l in stack if not runtime(f, l)]
    if not user:
        return "rlekf", "?"
    f, l = user[0]
    v = owner(l)
    text = "%s %s" % (f, re.sub(r"\(BuildId.*", "", l).strip())
    if v != "rlekf":  # the rlekf frame that called into the library
        callers = [(g, m) for g, m in user if owner(m) == "rlekf"]
        if callers:
            text += " via %s %s" % callers[0]
    return v, text


def triage(exe, path):
    if not os.path.isfile(path):
        return "rlekf", "-", "no such input file"
    env = dict(os.environ)
    # A malloc above the memory limit becomes an ASan report with the full allocation stack
    # (libFuzzer's own malloc-limit report unwinds too little through a library without frame
    # pointers to say whose malloc it was).
    env["ASAN_OPTIONS"] = ("fast_unwind_on_malloc=0:allocator_may_return_null=0:detect_leaks=1:"
                           "symbolize=1:max_allocation_size_mb=%d" % RSS_MB)
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    try:
        p = subprocess.run([exe, "-runs=1", "-timeout=%d" % TIMEOUT, "-rss_limit_mb=%d" % RSS_MB,
                            "-malloc_limit_mb=0", path], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3 * TIMEOUT + 30)
        text = p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", "-", "rerun did not finish"
    lines = text.splitlines()
    hits = [(i, REPORT.search(l).group(1)) for i, l in enumerate(lines) if REPORT.search(l)]
    if not hits:
        return "ok", "-", "no report when run alone"
    i, kind = hits[0]
    if kind.startswith("contract broken"):
        return "rlekf", kind, "fuzz_harness contract"
    if kind == "ERROR: LeakSanitizer":
        verdicts = []
        for j, l in enumerate(lines):
            if re.match(r"(Direct|Indirect) leak of", l):
                verdicts.append(where(frames(lines, j)))
        ours = [w for v, w in verdicts if v == "rlekf"]
        if ours:
            return "rlekf", "leak", ours[0]
        return (verdicts[0][0], "leak", verdicts[0][1]) if verdicts else ("rlekf", "leak", "?")
    v, w = where(frames(lines, i))
    return v, kind.replace("ERROR: ", ""), w


def main():
    exe, files = sys.argv[1], sys.argv[2:]
    bad = 0
    for f in files:
        v, kind, w = triage(exe, f)
        bad += v == "rlekf"
        print("%s  %s  %s  %s" % (os.path.basename(f), v, kind, w[:300]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
