//! Files and folders that hold data in flight — a restore's staging folder with unsealed
//! Secrets, an artifact on its way to the store — and must not outlive the process. Their
//! owners (`tempfile` guards) remove them on every error path; this module also removes them
//! when the process is told to stop (SIGINT, SIGTERM, SIGHUP), which no destructor sees.
//!
//! How: `install` blocks those signals before any other thread exists (threads inherit the
//! mask) and waits for them on one thread with `sigwait`, which may then do ordinary work —
//! remove what is registered — before exiting with 128 + the signal number, as a shell would
//! report it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

static REGISTERED: Mutex<Vec<(u64, PathBuf)>> = Mutex::new(Vec::new());
/// Writers that create new paths inside a registered folder, and `create_registered`, hold
/// this for reading; the signal thread takes it for writing (and never gives it back), so no
/// path appears, registered or not, once removal has begun.
static WRITING: RwLock<()> = RwLock::new(());
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Keeps `path` registered for removal on a signal until dropped. Dropping does not remove
/// the path: its owner does that (or keeps it, after a successful commit).
#[must_use = "the path is unregistered when the guard drops"]
pub struct Registered(u64);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut paths) = REGISTERED.lock() {
            paths.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Registers a file or folder to be removed if the process is stopped by a signal.
pub fn register(path: &Path) -> Registered {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut paths) = REGISTERED.lock() {
        paths.push((id, path.to_path_buf()));
    }
    Registered(id)
}

/// Creates a file or folder with `create` and registers the path `path_of` gives, as one step
/// for the signal thread: it cannot run between the two (the path would be left behind
/// unregistered), and once it has run no new path is created (the call blocks until the
/// process exits).
pub fn create_registered<T, E>(
    create: impl FnOnce() -> Result<T, E>,
    path_of: impl FnOnce(&T) -> &Path,
) -> Result<(T, Registered), E> {
    let _writing = writing();
    let created = create()?;
    let registered = register(path_of(&created));
    Ok((created, registered))
}

/// Held while creating files in a registered folder (see [`WRITING`]).
pub fn writing() -> Option<RwLockReadGuard<'static, ()>> {
    WRITING.read().ok()
}

/// Removes everything registered (a signal arrived). Waits for writes in flight, then
/// keeps every writer out until the process exits.
fn remove_all() {
    let hold = WRITING.write();
    std::mem::forget(hold);
    let paths = match REGISTERED.lock() {
        Ok(paths) => paths.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for (_, path) in paths {
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Ends the process now with `code`, removing what is registered first, as a signal would:
/// for the few exits that happen outside `main`'s error path (stdout's reader went away).
pub fn exit_now(code: i32) -> ! {
    remove_all();
    std::process::exit(code)
}

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Starts the signal thread. Call once, first thing in `main`, before any other thread.
pub fn install() {
    // SAFETY: plain libc signal-set calls on a set we own, made before other threads exist.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in SIGNALS {
            libc::sigaddset(&mut set, signal);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return; // cannot block: keep the default behaviour (die on the signal)
        }
        set
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signal: libc::c_int = 0;
            // SAFETY: `set` is a valid, initialised signal set; `signal` is written by sigwait.
            if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                remove_all();
                std::process::exit(128 + signal);
            }
        });
    if spawned.is_err() {
        // SAFETY: undo the block so the signals keep their default effect.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_lasts_as_long_as_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let a = register(&dir.path().join("a"));
        let b = register(&dir.path().join("b"));
        let listed = |p: &str| {
            REGISTERED
                .lock()
                .unwrap()
                .iter()
                .any(|(_, path)| path.ends_with(p))
        };
        assert!(listed("a") && listed("b"));
        drop(a);
        assert!(!listed("a") && listed("b"));
        drop(b);
        assert!(!listed("b"));
    }

    #[test]
    fn nothing_is_created_while_the_signal_thread_removes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("late");
        let removing = WRITING.write().unwrap();
        let creator = {
            let path = path.clone();
            std::thread::spawn(move || {
                create_registered(|| std::fs::File::create(&path).map(|_| path.clone()), |p| p)
                    .unwrap()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !path.exists(),
            "created while the registered paths were being removed"
        );
        drop(removing);
        let (created, registered) = creator.join().unwrap();
        assert!(created.exists());
        let listed = REGISTERED
            .lock()
            .unwrap()
            .iter()
            .any(|(id, p)| *id == registered.0 && *p == created);
        assert!(listed, "created but not registered");
    }
}
