//! A file one writer appends to while a follower reads what has already reached it: the S3
//! store uploads an artifact's compressed body in parts while the snapshot is still writing it.
//!
//! The writer side ([`Appender`]) counts the bytes that reached the file and publishes the
//! count; the follower ([`Follower`]) waits for a length and reads by offset (`pread`), so it
//! never moves the writer's file position. Bytes once written are never rewritten: the body is
//! appended to only, so a range the count covers is final.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use tokio::sync::watch;

/// The writing end: a file plus the count of bytes written to it, published to a follower if
/// one was asked for. Dropping it tells the follower the file is complete.
pub struct Appender {
    file: File,
    written: u64,
    progress: Option<watch::Sender<u64>>,
}

impl Appender {
    pub fn new(file: File) -> Self {
        Self {
            file,
            written: 0,
            progress: None,
        }
    }

    /// A follower of this file from now on. There is one at most: a second call replaces the
    /// first, whose waits then end as if the file were complete.
    pub fn follow(&mut self) -> io::Result<Follower> {
        let (sender, receiver) = watch::channel(self.written);
        self.progress = Some(sender);
        Ok(Follower {
            file: self.file.try_clone()?,
            progress: receiver,
        })
    }

    pub fn into_file(self) -> File {
        self.file
    }
}

impl Write for Appender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if let Some(progress) = &self.progress {
            progress.send_replace(self.written);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The reading end: waits for the file to reach a length, reads ranges of it.
pub struct Follower {
    file: File,
    progress: watch::Receiver<u64>,
}

impl Follower {
    /// Waits until at least `length` bytes are written; false if the writer finished (or was
    /// dropped) short of it.
    pub async fn wait_for(&mut self, length: u64) -> bool {
        let reached = self
            .progress
            .wait_for(|&written| written >= length)
            .await
            .is_ok();
        // Closed: the last count may still have reached it.
        reached || *self.progress.borrow() >= length
    }

    /// Whether the writer has finished (or was dropped).
    pub fn is_complete(&self) -> bool {
        self.progress.has_changed().is_err()
    }

    /// A handle on the same file, for reading on a blocking thread.
    pub fn file(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}

/// `length` bytes of `file` from `offset`, failing if the file is shorter.
pub fn read_range(file: &File, offset: u64, length: usize) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; length];
    file.read_exact_at(&mut buffer, offset)?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_follower_sees_each_write_and_the_end() {
        let mut appender = Appender::new(tempfile::tempfile().unwrap());
        appender.write_all(b"ab").unwrap();
        let mut follower = appender.follow().unwrap();
        assert!(follower.wait_for(2).await, "written before following");
        appender.write_all(b"cdef").unwrap();
        assert!(follower.wait_for(6).await);
        let file = follower.file().unwrap();
        assert_eq!(read_range(&file, 1, 4).unwrap(), b"bcde");
        // The writer's position is its own: reading did not move it.
        appender.write_all(b"g").unwrap();
        assert!(follower.wait_for(7).await);
        assert!(!follower.is_complete());
        drop(appender);
        assert!(follower.is_complete());
        assert!(follower.wait_for(7).await, "reached before the end");
        assert!(!follower.wait_for(8).await, "never reached");
        assert_eq!(read_range(&file, 0, 7).unwrap(), b"abcdefg");
        assert!(read_range(&file, 4, 4).is_err(), "past the end");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_waiting_follower_wakes_when_the_length_is_reached() {
        let mut appender = Appender::new(tempfile::tempfile().unwrap());
        let mut follower = appender.follow().unwrap();
        let waiting = tokio::spawn(async move { follower.wait_for(3).await });
        tokio::task::yield_now().await;
        appender.write_all(b"x").unwrap();
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "woke before the length was reached");
        appender.write_all(b"yz").unwrap();
        assert!(waiting.await.unwrap());
    }
}
