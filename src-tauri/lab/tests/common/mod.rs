//! Shared by the lab's integration tests.
#![allow(dead_code)]

pub mod fixtures;
pub mod swagger;
