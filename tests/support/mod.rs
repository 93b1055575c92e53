//! Shared helpers for the integration tests: running the real `routevault` binary in a
//! throwaway workspace (`cli`), building hostile artifacts (`archive`), and the test bed's
//! real servers (`bed`).
#![allow(dead_code)] // each test binary uses a different part of the support code

pub mod archive;
pub mod bed;
pub mod cli;
