"""Hostile submissions that go for the run itself or for the other submissions: the fork server
(killed, stopped, sent forged answers), the reports (a FIFO or a link where a report will be
written), the private copy of the kit (a file made with ``os.mknod``), a secret in a thread's
``/proc`` entries, and processes that leave their session to outlive the submission and then
edit, or kill, what is graded after it.

The run must finish with every row whatever these do, and the other submissions must keep
their points. Routes the audit hook sees (a call from the submission's own frames) are
``CHEATS``: refused and flagged. Routes it does not see (a thread started on a builtin, a
process of a check) are ``FAULTS``: each ends by returning a wrong answer, so it costs
``describe`` its point, and what it did must cost nobody else anything: the processes it left
are ended with its grading process, as root they run under a user id that cannot reach the
others, and the reports are written through new files that replace whatever stands there.

``MARKER`` is in the command line of every process these submissions leave behind:
``tests/test_grade_redteam.py`` checks that none is alive after the run. ``ELSEWHERE`` starts
the paths that the links in the reports point to: nothing may be written there.
"""

from __future__ import annotations

from redteam.snippets import fn as _fn

MARKER = "drills-redteam-escapee"
ELSEWHERE = "/tmp/drills-redteam-elsewhere"

#: At module level: drills grade's command line, found from the grading process's parent (the
#: fork server), whose parent is drills grade; ``OUT`` is its --out folder.
_ARGS = '''
def _drills_grade_args():
    with open(f"/proc/{os.getppid()}/stat") as fh:
        ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
    with open(f"/proc/{ppid}/cmdline") as fh:
        return fh.read().split("\\0")


_done = False


def _out():
    args = _drills_grade_args()
    return args[args.index("--out") + 1]


def _drills_grade_pid():
    with open(f"/proc/{os.getppid()}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[1]
'''


#: The first call of describe does the harm; the calls hypothesis makes after it fail at once.
_ONCE = "global _done\nif _done:\n    return {}\n_done = True\n"


def _thread(target: str, args: str, then: str = "time.sleep(1)") -> str:
    """A describe that calls ``target(*args)`` from a new thread (no frame of the submission is
    on that thread's stack), waits, and answers wrongly."""
    return _fn(f"{_ONCE}import pathlib, signal, threading, time\n"
               f"threading.Thread(target={target}, args={args}).start()\n{then}\nreturn {{}}",
               head=_ARGS)


def _escape_code(script: str) -> str:
    """The code of a process that waits for its grading process (``argv[1]``) to end, leaving
    its parent so that it is reparented, then does ``script`` (to this run only: ``work`` and
    ``drills`` are the run's working folder and drills grade's pid) for ten minutes."""
    wait = ("import glob, os, signal, sys, time\n"
            "if os.fork():\n    os._exit(0)\n"
            "while os.path.exists(f'/proc/{sys.argv[1]}'):\n    time.sleep(0.05)\n"
            "time.sleep(1)\nend = time.time() + 600\n"
            "work, drills = sys.argv[3], sys.argv[4]\n"
            "while time.time() < end:\n")
    return wait + "\n".join("    " + line for line in script.strip().splitlines()) + "\n    time.sleep(0.1)\n"


#: Where the submission's tree is: the run's working folder, four levels up.
_WORK = "\nWORK = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))\n"
_POPEN = ("kwargs={'start_new_session': True, 'stdin': subprocess.DEVNULL,\n"
          "        'stdout': subprocess.DEVNULL, 'stderr': subprocess.DEVNULL}\n")


def _escapee(script: str) -> str:
    """A describe that starts :func:`_escape_code` of ``script`` in a process of its own
    session, from a thread, and answers wrongly."""
    return _fn(
        f"{_ONCE}import subprocess, threading, time\n"
        f"cmd = [sys.executable, '-c', {_escape_code(script)!r}, str(os.getpid()), {MARKER!r}, WORK, _drills_grade_pid()]\n"
        + _POPEN + "threading.Thread(target=subprocess.Popen, args=(cmd,), kwargs=kwargs).start()\n"
        "time.sleep(1)\nreturn {}",
        head=_ARGS + _WORK,
    )


#: Append a wrong batched_gather to every submission file of the run it can reach: the other
#: boxes (graded later) and the submissions' own folders (on drills grade's command line).
_EDIT_OTHERS = '''
targets = glob.glob(work + "/sub-*/tree/day1/tensors.py")
for arg in open(f"/proc/{drills}/cmdline").read().split("\\0"):
    if arg.startswith("/"):
        targets += glob.glob(arg + "/**/day1/tensors.py", recursive=True)
for path in targets:
    try:
        with open(path, "a") as fh:
            fh.write("\\ndef batched_gather(*a, **k):\\n    return None\\n")
    except OSError:
        pass
'''

#: Kill the run's fork servers (children of drills grade) and their grading processes (not the
#: processes of these submissions: itself, or another one reparented to a fork server).
_KILL_GRADING = '''
parents = {}
for pid in os.listdir("/proc"):
    try:
        parents[int(pid)] = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
    except (OSError, ValueError, IndexError):
        continue
servers = {pid for pid, parent in parents.items() if parent == drills}
for pid, parent in parents.items():
    try:
        mine = sys.argv[2].encode() in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if (pid in servers or int(parent) in servers) and not mine:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
'''

CHEATS: dict[str, str] = {
    # a FIFO where grades.csv will be written would block the run forever: os.mkfifo is refused
    "fifo_at_the_reports": _fn("os.mkfifo(os.path.join(_out(), 'grades.csv'))", head=_ARGS),
    "fifo_in_its_own_folder": _fn("os.mkfifo(os.path.join(os.path.dirname(__file__), 'pipe'))"),
    # a file made in the private copy of the kit flagged every later submission: refused
    "mknod_in_the_kit": _fn("import graders\nos.mknod(os.path.join(os.path.dirname(graders.__file__), 'planted.py'))"),
    "posix_mknod_in_the_kit": _fn(
        "import graders, posix\nposix.mknod(os.path.join(os.path.dirname(graders.__file__), 'day1', 'planted.py'))"),
    # the channel's secret: in no environment block, and every thread's /proc entries refused
    "read_thread_environ": _fn("import threading\nopen(f'/proc/self/task/{threading.get_native_id()}/environ').read()"),
    "read_thread_self_environ": _fn("open('/proc/thread-self/environ', 'rb').read()"),
    "read_fork_server_environ": _fn("open(f'/proc/{os.getppid()}/environ', 'rb').read()"),
    "list_thread_descriptors": _fn("os.listdir('/proc/thread-self/fd')"),
}

FAULTS: dict[str, str] = {
    # the fork server killed, interrupted or stopped: replaced; the check it ran is flagged
    "kill_the_fork_server": _thread("os.kill", "(os.getppid(), signal.SIGKILL)", "time.sleep(3)"),
    "terminate_the_fork_server": _thread("os.kill", "(os.getppid(), signal.SIGTERM)", "time.sleep(3)"),
    "stop_the_fork_server": _thread("os.kill", "(os.getppid(), signal.SIGSTOP)", "time.sleep(3)"),
    # forged answers in the fork server's reply pipe: a lost server, never a killed stranger
    "forge_fork_server_answers": _thread(
        "pathlib.Path(f'/proc/{os.getppid()}/fd/1').write_text", "('{\"rc\": 0}\\n{\"pid\": 1}\\n',)"),
    # its own grading process killed, or without its descriptors (the channel closed)
    "terminate_its_grading_process": _thread("os.kill", "(os.getpid(), signal.SIGTERM)", "time.sleep(3)"),
    "close_every_descriptor": _thread("os.closerange", "(3, 4096)"),
    # FIFOs and links where the reports will be written: replaced, never opened or followed
    "fifos_at_the_reports_from_a_thread": _fn(
        f"{_ONCE}import threading, time\n"
        "for name in ('grades.csv', 'grades.json', 'timings.json', 'summary.html', 'feedback', '.cache'):\n"
        "    threading.Thread(target=os.mkfifo, args=(os.path.join(_out(), name),)).start()\n"
        "time.sleep(0.5)\nreturn {}", head=_ARGS),
    "links_at_the_reports_from_a_thread": _fn(
        f"{_ONCE}import threading, time\n"
        "for name in ('grades.json', 'summary.html', 'feedback'):\n"
        f"    target = '{ELSEWHERE}-' + name\n"
        "    threading.Thread(target=os.symlink, args=(target, os.path.join(_out(), name))).start()\n"
        "time.sleep(0.5)\nreturn {}", head=_ARGS),
    # processes that leave their session and outlive the submission: ended with it
    "escapee_edits_the_other_submissions": _escapee(_EDIT_OTHERS),
    "escapee_kills_the_grading_processes": _escapee(_KILL_GRADING),
}


#: Hostile ``train_data_parallel`` of day6/distributed.py, whose checks may start processes and
#: signal them (registry: ``sandbox = ["processes", ...]``): the audit hook lets these through,
#: so the run itself must cope. Each returns a wrong answer (its name in the feedback, where it
#: reports what it found). ``tests/test_grade_redteam.py`` grades them in a run of their own,
#: with honest submissions after them.
PROCESSES: dict[str, str] = {}


def _train(body: str) -> str:
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return (f"\nimport os, signal, subprocess, sys, time\n{_ARGS}{_WORK}\n"
            "def train_data_parallel(world_size, model_fn, inputs, targets, batch_size, steps, lr, seed=0):\n"
            f"{lines}\n    return {{}}\n")


#: Whether the environment block of any of the processes ``argv[1:]`` holds the channel's secret.
_SECRETS = """import sys
found = False
for pid in sys.argv[1:]:
    try:
        found = found or b"NONCE" in open(f"/proc/{pid}/environ", "rb").read()
    except OSError:
        pass
print(found)
"""


def _child(code: str, *args: str) -> str:
    """Run ``code`` in a Python process (no audit hook there) with ``args``; wait for it."""
    return f"subprocess.run([sys.executable, '-c', {code!r}, {', '.join(args)}], capture_output=True, timeout=60)"


PROCESSES.update({
    "processes_kill_the_fork_server": _train("os.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(5)"),
    "processes_stop_the_fork_server": _train("os.kill(os.getppid(), signal.SIGSTOP)\ntime.sleep(5)"),
    "processes_escape_and_edit_the_others": _train(
        f"subprocess.Popen([sys.executable, '-c', {_escape_code(_EDIT_OTHERS)!r}, str(os.getpid()), {MARKER!r}, "
        "WORK, _drills_grade_pid()], " + _POPEN.replace("kwargs=", "**").replace("\n", "") + ")"),
    "processes_escape_and_kill_the_grading": _train(
        f"subprocess.Popen([sys.executable, '-c', {_escape_code(_KILL_GRADING)!r}, str(os.getpid()), {MARKER!r}, "
        "WORK, _drills_grade_pid()], " + _POPEN.replace("kwargs=", "**").replace("\n", "") + ")"),
    "processes_fifos_and_links_at_the_reports": _train(_child(
        "import os, sys\nout, elsewhere = sys.argv[1], sys.argv[2]\n"
        "for name in ('grades.csv', 'timings.json', '.cache'):\n"
        "    try:\n        os.mkfifo(os.path.join(out, name))\n    except OSError:\n        pass\n"
        "for name in ('grades.json', 'summary.html', 'feedback'):\n"
        "    try:\n        os.symlink(elsewhere + '-' + name, os.path.join(out, name))\n    except OSError:\n        pass\n",
        "_out()", repr(ELSEWHERE))),
    # a changed copy of the kit: as root with a user id of its own it cannot; else it is caught
    "processes_change_the_kit": _train("import graders\n" + _child(
        "import os, sys\nos.chmod(sys.argv[1], 0o755)\nopen(os.path.join(sys.argv[1], 'planted.py'), 'w').write('#')\n",
        "os.path.dirname(graders.__file__)")),
    # no environment block of the grading process or of its fork server holds a secret
    "processes_look_for_secrets": _train(
        "found = " + _child(_SECRETS, "str(os.getpid())", "str(os.getppid())").replace(
            "capture_output=True", "capture_output=True, text=True") + "\n"
        "return {f'a secret in an environment: {found.stdout.strip()}': None}"),
})
