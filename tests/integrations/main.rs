//! The adapters driven by each platform's real client library from PyPI (PyMISP, misp-modules,
//! cortexutils), run as child processes from the venv `scripts/setup` makes.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../support/service.rs"]
mod service;

mod cortex;
mod misp;
mod python;
