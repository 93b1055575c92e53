//! Sources of objects for a snapshot: a folder of manifests (`dir`) or a live cluster (`cluster`).
//! A source yields raw objects; selection and normalisation happen after, the same for every
//! source.

pub mod cluster;
pub mod dir;
