//! Sources of objects for a snapshot: a folder of manifests (`dir`), and later a live cluster.
//! A source yields raw objects; selection and normalisation happen after, the same for every
//! source.

pub mod dir;
