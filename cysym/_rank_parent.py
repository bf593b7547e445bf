"""Under MPICH's mpiexec, a parent process for each rank, which names the rank if it dies.

When one rank of a job is killed (``kill -9``, the out-of-memory killer) or crashes, mpiexec
(hydra) kills the other ranks and reports one process id, but which one is a race. Its proxy
marks the other ranks as cleaned up before killing them. While it still reads some rank's
output, though, it overwrites that mark with each reaped rank's real status (the first wait
loop of hydra's proxy/pmip.c, MPICH 4 and 5). It then reports the lowest rank that ended by a
signal, often one it killed itself.

So ``import cysym``, in a process hydra started with a PMI socket (PMI_FD) and before MPI is
initialized, runs the same command again as a child process, which becomes the MPI rank. The
first process turns into a small parent (a fresh interpreter, about 10 MB) that waits for the
child. The parent keeps the rank's PMI socket and output pipes open, so hydra notices nothing
until the parent has printed how the child ended. Then the parent ends the same way (same exit
code, or same signal). When hydra ends a job, it kills each rank's process group, parent and
child together, so only the parent of a rank that died by itself lives to print.

The command runs from the start in the child: code before ``import cysym`` runs in both
processes. CYSYM_KV_SUPERVISE=0 turns this off; so does importing mpi4py.MPI before cysym.
"""
import os
import subprocess
import sys

_MARK = "CYSYM_RANK_PARENT"   # set in the child: the pid of its parent

# The parent's whole program, run by `python -I -S -c` (no site, no cysym: quick and small).
# SIGINT and SIGTERM from the launcher reach the child too (same process group): the child
# decides what they do, and the parent reports how it ended.
_PARENT = """
import os, signal, socket, sys
child, rank, size = sys.argv[1], sys.argv[2], sys.argv[3]
ignored = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
for number in ignored:
    signal.signal(number, signal.SIG_IGN)
status = os.waitpid(int(child), 0)[1]
if os.WIFSIGNALED(status):
    number = os.WTERMSIG(status)
    os.write(2, ("cysym.kvstore: rank %s of %s (pid %s on %s) was killed by signal %d (%s); "
                 "ending the job\\n" % (rank, size, child, socket.gethostname(), number,
                                        signal.Signals(number).name)).encode())
    if number in ignored:
        signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)
os._exit(os.waitstatus_to_exitcode(status))
"""


def _wanted():
    return ("PMI_FD" in os.environ and _MARK not in os.environ
            and os.environ.get("CYSYM_KV_SUPERVISE", "1") != "0"
            and "mpi4py.MPI" not in sys.modules        # MPI already initialized here
            and not sys.flags.interactive and sys.argv[0] not in ("", "-"))   # a command to rerun


def become_parent_of_the_rank():
    """If wanted, start the rank as a child and never return: this process becomes its parent."""
    if not _wanted():
        return
    pmi_fd = int(os.environ["PMI_FD"])
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    child = subprocess.Popen(sys.orig_argv, executable=sys.executable, pass_fds=(pmi_fd,),
                             env=dict(os.environ, **{_MARK: str(os.getpid())}))
    os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", _PARENT, str(child.pid),
                              os.environ.get("PMI_RANK", "?"), os.environ.get("PMI_SIZE", "?")])


def launched_as():
    """The process id mpiexec knows this rank by: its parent's, under become_parent_of_the_rank."""
    return int(os.environ.get(_MARK, os.getpid()))
