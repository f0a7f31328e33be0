//! `chown(2)` where only one uid is mapped: the commands run under a seccomp filter that
//! hands every call of the chown family to us (seccomp user notification). We record
//! the owner asked for in the ownership journal, as the `chown` stand-ins do, and answer
//! success, so that programs that give files away themselves (`useradd -m`, `install
//! -o`, static binaries) work, and the layer writer applies the owners to the headers.
//!
//! The filter is installed by the child between fork and exec, after it entered its
//! chroot; it sends us the listener over a socket. Paths are read from the child's
//! memory and resolved through `/proc/<pid>`, which works across its namespaces.

use crate::customisation::fakeroot::{self, Ownership};
use crate::sys::check;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The syscalls trapped, and the audit architecture the filter checks first (a syscall
/// number means something else under another ABI).
#[cfg(target_arch = "x86_64")]
const TRAPPED: &[libc::c_long] = &[
    libc::SYS_chown,
    libc::SYS_fchown,
    libc::SYS_lchown,
    libc::SYS_fchownat,
];
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const TRAPPED: &[libc::c_long] = &[libc::SYS_fchown, libc::SYS_fchownat];
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The longest path read from the child's memory.
const PATH_MAX: usize = 4096;

/// Both ends of the socket the listener travels over, and the filter, made before the
/// fork (the child may not allocate).
pub struct ChownTrap {
    parent: OwnedFd,
    child: OwnedFd,
    program: Vec<libc::sock_filter>,
}

impl ChownTrap {
    /// Makes the socket pair and the filter program.
    pub fn new() -> io::Result<ChownTrap> {
        let mut fds = [0; 2];
        // SAFETY: plain system call filling a two-element array.
        check(unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        })?;
        // SAFETY: both descriptors were just created and belong to nobody else.
        let (parent, child) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(ChownTrap {
            parent,
            child,
            program: filter(),
        })
    }

    /// What the child runs last before exec: the filter, and the listener sent home.
    pub fn child_side(&self) -> impl Fn() -> io::Result<()> + Send + Sync + 'static {
        let program = self.program.clone();
        let socket = self.child.as_raw_fd();
        move || install(&program, socket)
    }

    /// Serves the child's chown calls into `journal` until `done` is set or no process
    /// is left under the filter. `image_root` is the image root as our side sees the
    /// child's paths (its chroot, or the tree it works in).
    pub fn serve(self, journal: &File, image_root: &Path, done: &AtomicBool) -> io::Result<()> {
        drop(self.child); // so that a child that never sends ends our wait
        let Some(listener) = receive_fd(&self.parent)? else {
            return Ok(()); // the child failed before its exec; its status says why
        };
        while !done.load(Ordering::Relaxed) {
            let mut poll = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: plain system call on one pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, 100) };
            if ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(io::Error::last_os_error());
            }
            if poll.revents & libc::POLLIN != 0 {
                answer_one(&listener, journal, image_root);
            } else if poll.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                break;
            }
        }
        Ok(())
    }
}

/// The BPF program: the chown family of our architecture goes to the listener,
/// everything else is allowed.
fn filter() -> Vec<libc::sock_filter> {
    let op = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jump_eq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let n = TRAPPED.len() as u8;
    let mut program = vec![
        op(load, 0, 0, 4), // seccomp_data.arch
        op(jump_eq, 0, n + 1, AUDIT_ARCH),
        op(load, 0, 0, 0), // seccomp_data.nr
    ];
    for (i, nr) in TRAPPED.iter().enumerate() {
        // Matching jumps over the rest and the allow to the notify.
        let to_notify = (TRAPPED.len() - i) as u8;
        program.push(op(jump_eq, to_notify, 0, *nr as u32));
    }
    program.push(op(ret, 0, 0, libc::SECCOMP_RET_ALLOW));
    program.push(op(ret, 0, 0, libc::SECCOMP_RET_USER_NOTIF));
    program
}

/// The child's side: no new privileges (required of an unprivileged filter), the filter,
/// and its listener sent over `socket`. System calls only, on memory made before the fork.
fn install(program: &[libc::sock_filter], socket: RawFd) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: plain system calls with valid pointers; results checked.
    unsafe {
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        let listener = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const libc::sock_fprog,
        );
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        let sent = send_fd(socket, listener as RawFd);
        libc::close(listener as RawFd);
        sent
    }
}

/// The buffers of a message carrying one byte and one descriptor; the control buffer is
/// of u64 so that the control header in it is aligned.
struct FdMessage {
    byte: [u8; 1],
    control: [u64; 3],
    iov: libc::iovec,
}

impl FdMessage {
    /// Empty buffers.
    fn new() -> FdMessage {
        FdMessage {
            byte: [0],
            control: [0; 3],
            iov: libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
        }
    }

    /// A message header pointing at these buffers, which must stay where they are while
    /// it is used.
    fn header(&mut self) -> libc::msghdr {
        self.iov = libc::iovec {
            iov_base: self.byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: a zeroed msghdr is a valid empty one; the fields set point at our buffers.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        message.msg_iov = &mut self.iov;
        message.msg_iovlen = 1;
        message.msg_control = self.control.as_mut_ptr().cast();
        message.msg_controllen = size_of_val(&self.control);
        message
    }
}

/// Sends `fd` over `socket` (SCM_RIGHTS). No allocation: safe between fork and exec.
fn send_fd(socket: RawFd, fd: RawFd) -> io::Result<()> {
    let mut buffers = FdMessage::new();
    let mut message = buffers.header();
    // SAFETY: the header points at live, aligned buffers of the stated sizes; the cmsg
    // macros stay within the control buffer.
    unsafe {
        message.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as usize;
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
        if libc::sendmsg(socket, &message, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives a descriptor sent by [`send_fd`]; `None` when the other end closed first.
fn receive_fd(socket: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut buffers = FdMessage::new();
    let mut message = buffers.header();
    // SAFETY: as in `send_fd`; the received descriptor is checked before it is owned.
    unsafe {
        let n = libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let header = libc::CMSG_FIRSTHDR(&message);
        if n == 0 || header.is_null() || (*header).cmsg_type != libc::SCM_RIGHTS {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

/// Receives one notification and answers it: recorded and successful, or `ENOENT`.
fn answer_one(listener: &OwnedFd, journal: &File, image_root: &Path) {
    // SAFETY: a zeroed notification is what the kernel expects to fill.
    let mut request: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl with a pointer to a struct of the size the request encodes.
    if unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut request,
        )
    } < 0
    {
        return; // the caller died meanwhile
    }
    let error = match ChownCall::read(&request) {
        Some(call) => call.record(request.pid, journal, image_root),
        None => libc::EFAULT,
    };
    let mut response = libc::seccomp_notif_resp {
        id: request.id,
        val: 0,
        error: -error,
        flags: 0,
    };
    // SAFETY: as above; an answer to a caller that died in between is refused, harmlessly.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut response,
        )
    };
}

/// One call of the chown family, decoded.
struct ChownCall {
    /// The directory a relative path starts from: a descriptor, or the cwd (`None`).
    dir_fd: Option<i32>,
    /// The path given, empty for `fchown` and `AT_EMPTY_PATH`.
    path: PathBuf,
    uid: Option<u64>,
    gid: Option<u64>,
}

impl ChownCall {
    /// Decodes the arguments of `request`, reading the path from the caller's memory.
    fn read(request: &libc::seccomp_notif) -> Option<ChownCall> {
        let args = request.data.args;
        let id = |v: u64| (v as u32 != u32::MAX).then_some(u64::from(v as u32));
        let path = |address: u64| read_string(request.pid, address);
        let nr = libc::c_long::from(request.data.nr);
        #[cfg(target_arch = "x86_64")]
        if nr == libc::SYS_chown || nr == libc::SYS_lchown {
            return Some(ChownCall {
                dir_fd: None,
                path: path(args[0])?,
                uid: id(args[1]),
                gid: id(args[2]),
            });
        }
        if nr == libc::SYS_fchown {
            return Some(ChownCall {
                dir_fd: Some(args[0] as i32),
                path: PathBuf::new(),
                uid: id(args[1]),
                gid: id(args[2]),
            });
        }
        let dir_fd = (args[0] as i32 != libc::AT_FDCWD).then_some(args[0] as i32);
        Some(ChownCall {
            dir_fd,
            path: path(args[1])?,
            uid: id(args[2]),
            gid: id(args[3]),
        })
    }

    /// Records the call in `journal` if its file exists; returns the errno to answer.
    fn record(&self, pid: u32, journal: &File, image_root: &Path) -> i32 {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let Ok(root) = std::fs::read_link(proc.join("root")) else {
            return libc::ESRCH;
        };
        // Where the file is as the caller's root sees it, then as we see it.
        let seen = if self.path.is_absolute() {
            root.join(self.path.strip_prefix("/").unwrap_or(&self.path))
        } else {
            let base = match self.dir_fd {
                Some(fd) => proc.join("fd").join(fd.to_string()),
                None => proc.join("cwd"),
            };
            match std::fs::read_link(&base) {
                Ok(dir) => dir.join(&self.path),
                Err(_) => return libc::EBADF,
            }
        };
        let inside_caller = seen.strip_prefix(&root).unwrap_or(&seen);
        if std::fs::symlink_metadata(proc.join("root").join(inside_caller)).is_err() {
            return libc::ENOENT;
        }
        let image =
            fakeroot::image_path(image_root, &fakeroot::lexical_join(Path::new("/"), &seen));
        let record = fakeroot::record(
            &image,
            Ownership {
                uid: self.uid,
                gid: self.gid,
            },
        );
        let mut writer = journal;
        match writer.write_all(&record) {
            Ok(()) => 0,
            Err(_) => libc::EIO,
        }
    }
}

/// The NUL-terminated string at `address` in the memory of process `pid`.
fn read_string(pid: u32, address: u64) -> Option<PathBuf> {
    let memory = File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 256];
    while bytes.len() < PATH_MAX {
        // Never across a page boundary in one read: the next page may be unmapped.
        let at = address + bytes.len() as u64;
        let to_page_end = 4096 - (at % 4096) as usize;
        let want = chunk.len().min(to_page_end);
        let n = memory.read_at(&mut chunk[..want], at).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            bytes.extend_from_slice(&chunk[..end]);
            return Some(PathBuf::from(OsStr::from_bytes(&bytes)));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    None
}
