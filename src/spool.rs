//! An unlinked temporary file holding objects as compact JSON while selection decides what a
//! capture keeps, so that a capture's memory does not grow with the objects' bodies (issue 16:
//! flat memory), and `diff`'s sides while they are compared. The file is never visible on
//! disk (unlinked from the start) and only ever holds routing objects a snapshot stores anyway
//! — never Secret data: Secrets stream, and `diff` keeps only witnesses of their values.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use crate::object::Object;

/// Where one object's bytes are.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    offset: u64,
    len: u32,
}

/// Objects being written.
pub struct Spool {
    writer: BufWriter<File>,
    written: u64,
}

impl Spool {
    /// A spool in the system's temporary folder (`TMPDIR`), as the artifact's own body.
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            written: 0,
        })
    }

    pub fn put(&mut self, object: &Object) -> io::Result<Slot> {
        let bytes = serde_json::to_vec(&object.0).map_err(io::Error::other)?;
        self.put_bytes(&bytes)
    }

    /// Writes an object already serialised as JSON.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> io::Result<Slot> {
        let len = u32::try_from(bytes.len()).map_err(io::Error::other)?;
        self.writer.write_all(bytes)?;
        let slot = Slot {
            offset: self.written,
            len,
        };
        self.written += u64::from(len);
        Ok(slot)
    }

    /// Ends writing; the objects can then be read back in any order.
    pub fn finish(self) -> io::Result<SpoolReader> {
        let file = self.writer.into_inner().map_err(|e| e.into_error())?;
        Ok(SpoolReader { file })
    }
}

pub struct SpoolReader {
    file: File,
}

impl SpoolReader {
    pub fn get(&self, slot: Slot) -> io::Result<Object> {
        let mut bytes = vec![0u8; slot.len as usize];
        self.file.read_exact_at(&mut bytes, slot.offset)?;
        serde_json::from_slice(&bytes)
            .map(Object)
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_come_back_as_they_went_in_in_any_order() {
        let objects: Vec<Object> = (0..100)
            .map(|i| {
                Object(json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": format!("s{i}"), "namespace": "shop",
                                 "annotations": {"a": "x".repeat(i * 37)}}}))
            })
            .collect();
        let mut spool = Spool::new().unwrap();
        let slots: Vec<Slot> = objects.iter().map(|o| spool.put(o).unwrap()).collect();
        let reader = spool.finish().unwrap();
        for i in (0..100).rev().step_by(3) {
            assert_eq!(reader.get(slots[i]).unwrap(), objects[i]);
        }
    }
}
