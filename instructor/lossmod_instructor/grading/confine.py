"""Kernel confinement of a grading child on Linux, through ``ctypes`` (no dependency).

Four layers, each reported as applied or not (the grader records them in its audit log):

- :func:`drop_capabilities`, run before ``exec`` when the grader runs as root: the child keeps
  uid 0 but holds no capability, and cannot regain one (empty bounding set, ``NO_NEW_PRIVS``).
- :func:`new_ipc_namespace`, run before ``exec`` where the grader may (as root): the child's
  System V and POSIX IPC objects live in a namespace of its own, gone with it.
- :func:`landlock` (Linux 5.13+): the child reads only the trees it is given (the Python
  installation, its private copy of lossmod), writes only beneath its scratch directory and
  creates no link, pipe, socket or device node there, makes no TCP connection (ABI 4+) and
  signals no process outside its own domain (ABI 6+).
- :func:`seccomp`: no new process (``fork``, ``vfork``, ``clone`` of anything but a thread,
  ``clone3``, ``execve``), no socket, no ``ptrace``-like or namespace call, no change of a
  file's mode, owner, times or extended attributes (which Landlock leaves alone); nothing that
  acts on another process of the same user (``prlimit64``, scheduling calls and signals on any
  pid but its own, priorities, ``pidfd_open``, ``kcmp``, page migration); and no System V
  message queue, semaphore or shared memory, nor POSIX message queue, which would outlive it.

Landlock and seccomp hold for the calling thread and everything it would start; call them from a
single-threaded process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from collections.abc import Iterable
from pathlib import Path

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_SECUREBITS_LOCKED_NOROOT = 0b111111  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED and their locks


def _syscall(number: int, *args: object) -> int:
    result = int(_LIBC.syscall(number, *args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def no_new_privileges() -> None:
    """Forbid gaining privileges through ``exec`` (Linux; nothing elsewhere)."""
    if platform.system() != "Linux":
        return
    if _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


# ---------------------------------------------------------------------------------------------
# Capabilities


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Give up every capability for good (for a child of a grader that runs as root)."""
    _LIBC.prctl(_PR_SET_SECUREBITS, _SECUREBITS_LOCKED_NOROOT, 0, 0, 0)
    for capability in range(64):
        if _LIBC.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability the kernel knows
    _LIBC.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _LIBC.capset(ctypes.byref(header), data) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    no_new_privileges()


def effective_capabilities() -> int:
    """The calling process's effective capability set, as a bit mask (0: none or unknown)."""
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


# ---------------------------------------------------------------------------------------------
# Landlock

_LANDLOCK_CREATE, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT = 444, 445, 446  # on every architecture
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_MAKE_CHAR, _FS_MAKE_SOCK, _FS_MAKE_FIFO = 1 << 6, 1 << 9, 1 << 10
_FS_MAKE_BLOCK, _FS_MAKE_SYM = 1 << 11, 1 << 12
_FS_SPECIAL = _FS_MAKE_CHAR | _FS_MAKE_SOCK | _FS_MAKE_FIFO | _FS_MAKE_BLOCK | _FS_MAKE_SYM
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_ALL = (1 << 0) | (1 << 1)  # bind and connect, TCP
_SCOPE_ALL = (1 << 0) | (1 << 1)  # abstract UNIX sockets, signals
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The Landlock ABI version of the running kernel; 0 when Landlock is unavailable."""
    if platform.system() != "Linux":
        return 0
    result = int(_LIBC.syscall(_LANDLOCK_CREATE, None, 0, 1))  # LANDLOCK_CREATE_RULESET_VERSION
    return max(result, 0)


def readable_trees(roots: Iterable[Path], hidden: Iterable[Path]) -> list[Path]:
    """The roots, each split into its entries wherever it holds a hidden path, without the hidden
    paths: Landlock grants access to whole trees, so a tree with a secret inside is granted entry
    by entry around the secret."""
    secrets = [h.resolve() for h in hidden]
    found: list[Path] = []

    def visit(path: Path) -> None:
        if any(path == s or s in path.parents for s in secrets) or path in found:
            return
        if any(path in s.parents for s in secrets) and path.is_dir():
            for entry in sorted(path.iterdir()):
                visit(entry.resolve())
        elif path.exists():
            found.append(path)

    for root in roots:
        visit(root.resolve())
    return found


def landlock(read: Iterable[Path], write: Iterable[Path], devices: Iterable[Path] = ()) -> int:
    """Restrict the calling thread, for good, to reading ``read``, reading and writing ``write``
    (whole trees, where files and folders may be made, but no link, pipe, socket or device)
    and ``devices`` (single files); no TCP, no signal outside. Returns the ABI version applied,
    0 when Landlock is unavailable (nothing is restricted then)."""
    abi = landlock_abi()
    if abi == 0:
        return 0
    fs = (1 << 13) - 1
    fs |= (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    fs |= _FS_IOCTL_DEV if abi >= 5 else 0
    attr = _RulesetAttr(fs, _NET_ALL if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _syscall(_LANDLOCK_CREATE, ctypes.byref(attr), size, 0)
    try:
        for path in read:
            _allow(ruleset, path, fs & (_FS_READ_FILE | _FS_READ_DIR))
        for path in write:
            _allow(ruleset, path, fs & ~_FS_EXECUTE & ~_FS_SPECIAL)
        for path in devices:
            _allow(ruleset, path, fs & (_FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE))
        no_new_privileges()
        _syscall(_LANDLOCK_RESTRICT, ruleset, 0)
    finally:
        os.close(ruleset)
    return abi


def _allow(ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist needs no rule
    try:
        if not os.path.isdir(f"/proc/self/fd/{fd}"):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _syscall(
            _LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0
        )  # LANDLOCK_RULE_PATH_BENEATH
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# seccomp

# Syscall numbers, (x86_64, aarch64); None where the architecture has no such call.
# fmt: off
_Numbers = dict[str, tuple[int | None, int | None]]
_PROCESS: _Numbers = {
    "fork": (57, None), "vfork": (58, None), "execve": (59, 221), "execveat": (322, 281),
}
_REFUSED: _Numbers = {
    "socket": (41, 198), "socketpair": (53, 199), "ptrace": (101, 117),
    "process_vm_readv": (310, 270), "process_vm_writev": (311, 271), "io_uring_setup": (425, 425),
    "userfaultfd": (323, 282), "unshare": (272, 97), "setns": (308, 268), "mount": (165, 40),
    "umount2": (166, 39), "pivot_root": (155, 41), "bpf": (321, 280), "perf_event_open": (298, 241),
    "pidfd_getfd": (438, 438), "keyctl": (250, 219), "add_key": (248, 217),
    "request_key": (249, 218),
    # a file's mode, owner, times and extended attributes, which Landlock does not cover
    "chmod": (90, None), "fchmod": (91, 52), "fchmodat": (268, 53), "fchmodat2": (452, 452),
    "chown": (92, None), "fchown": (93, 55), "lchown": (94, None), "fchownat": (260, 54),
    "utime": (132, None), "utimes": (235, None), "futimesat": (261, None),
    "utimensat": (280, 88), "setxattr": (188, 5), "lsetxattr": (189, 6), "fsetxattr": (190, 7),
    "removexattr": (197, 14), "lremovexattr": (198, 15), "fremovexattr": (199, 16),
    "setxattrat": (463, 463), "removexattrat": (466, 466),
    # other processes of the same user: their priority, pages, file descriptors, signals
    "setpriority": (141, 140), "ioprio_set": (251, 30), "migrate_pages": (256, 238),
    "move_pages": (279, 239), "process_madvise": (440, 440), "process_mrelease": (448, 448),
    "kcmp": (312, 272), "pidfd_open": (434, 434), "pidfd_send_signal": (424, 424),
    "tkill": (200, 130),
    # kernel objects that outlive their creator: System V IPC and POSIX message queues
    "shmget": (29, 194), "shmat": (30, 196), "shmctl": (31, 195), "shmdt": (67, 197),
    "semget": (64, 190), "semop": (65, 193), "semctl": (66, 191), "semtimedop": (220, 192),
    "msgget": (68, 186), "msgsnd": (69, 189), "msgrcv": (70, 188), "msgctl": (71, 187),
    "mq_open": (240, 180), "mq_unlink": (241, 181), "mq_timedsend": (242, 182),
    "mq_timedreceive": (243, 183), "mq_notify": (244, 184), "mq_getsetattr": (245, 185),
}
# calls whose first argument is a pid: allowed on the calling process only (0 or its own pid)
_ON_ITSELF: _Numbers = {
    "prlimit64": (302, 261), "sched_setaffinity": (203, 122), "sched_setparam": (142, 118),
    "sched_setscheduler": (144, 119), "sched_setattr": (314, 274),
}
# signals: to itself only (kill also to its own group, 0 or -pid); Landlock's scope (ABI 6+)
# covers them too; left alone when a test lets children fork
_SIGNALS: _Numbers = {
    "kill": (62, 129), "tgkill": (234, 131), "rt_sigqueueinfo": (129, 138),
    "rt_tgsigqueueinfo": (297, 240),
}
# fmt: on
_ARCHES = {"x86_64": (0, 0xC000003E, 317, 56), "aarch64": (1, 0xC00000B7, 277, 220)}
_CLONE3 = 435
_CLONE_THREAD = 0x00010000
_RET_ALLOW, _RET_KILL = 0x7FFF0000, 0x80000000
_RET_EPERM, _RET_ENOSYS = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
_LD_W_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ARG0 = 16  # offset of the low 32 bits of the first argument in struct seccomp_data
_Instruction = tuple[int, int, int, int]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _only_for(number: int, allowed: list[int]) -> list[_Instruction]:
    """Instructions refusing the call ``number`` unless the low 32 bits of its first argument
    (a pid_t, which the kernel reads as 32 bits) are one of ``allowed``; other calls pass on
    with the syscall number still loaded."""
    block: list[_Instruction] = [(_JEQ, 0, len(allowed) + 3, number), (_LD_W_ABS, 0, 0, _ARG0)]
    block += [(_JEQ, len(allowed) - i, 0, value) for i, value in enumerate(allowed)]
    return [*block, (_RET, 0, 0, _RET_EPERM), (_RET, 0, 0, _RET_ALLOW)]


def seccomp_supported() -> bool:
    """Whether :func:`seccomp` filters on this system."""
    return platform.system() == "Linux" and platform.machine() in _ARCHES


def seccomp(*, forbid_processes: bool = True) -> bool:
    """Install the filter on every thread of the calling process; False when the architecture is
    not one this module knows (nothing is filtered then). The calls that take a pid are allowed
    on the calling process only, so call this from the process to be confined."""
    if not seccomp_supported():
        return False
    machine = platform.machine()
    column, audit_arch, seccomp_nr, clone_nr = _ARCHES[machine]
    program: list[_Instruction] = [(_LD_W_ABS, 0, 0, 4), (_JEQ, 1, 0, audit_arch)]
    program += [(_RET, 0, 0, _RET_KILL), (_LD_W_ABS, 0, 0, 0)]
    if machine == "x86_64":  # the x32 ABI numbers its syscalls from 0x40000000
        program += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _RET_KILL)]
    refused = {**_REFUSED, **(_PROCESS if forbid_processes else {})}
    if forbid_processes:
        program += [(_JEQ, 0, 1, _CLONE3), (_RET, 0, 0, _RET_ENOSYS)]  # glibc falls back to clone
    for numbers in refused.values():
        number = numbers[column]
        if number is not None:
            program += [(_JEQ, 0, 1, number), (_RET, 0, 0, _RET_EPERM)]
    me = os.getpid()
    for numbers in _ON_ITSELF.values():
        program += _only_for(numbers[column] or 0, [0, me])
    if forbid_processes:
        for name, numbers in _SIGNALS.items():
            group = [0, me, (-me) & 0xFFFFFFFF] if name == "kill" else [me]
            program += _only_for(numbers[column] or 0, group)
        # clone: a thread is fine, a process is not
        program += [(_JEQ, 0, 3, clone_nr), (_LD_W_ABS, 0, 0, 16), (_JSET, 1, 0, _CLONE_THREAD)]
        program.append((_RET, 0, 0, _RET_EPERM))
    program.append((_RET, 0, 0, _RET_ALLOW))
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _SockFprog(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    no_new_privileges()
    _syscall(seccomp_nr, 1, 1, ctypes.byref(fprog))  # SET_MODE_FILTER, FILTER_FLAG_TSYNC
    return True


# ---------------------------------------------------------------------------------------------
# Namespaces

_CLONE_NEWIPC = 0x08000000


def new_ipc_namespace() -> bool:
    """Move the calling process into an IPC namespace of its own (which needs CAP_SYS_ADMIN: as
    root, before capabilities are dropped); False where it cannot."""
    if platform.system() != "Linux":
        return False
    return int(_LIBC.unshare(_CLONE_NEWIPC)) == 0


def ipc_namespace() -> str:
    """The calling process's IPC namespace (``ipc:[inode]``), or "" where unknown."""
    try:
        return os.readlink("/proc/self/ns/ipc")
    except OSError:
        return ""
