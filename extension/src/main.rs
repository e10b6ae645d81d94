//! `autopilot-extension`: wiring only (see the library for everything else).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use autopilot_extension::config::Config;
use autopilot_extension::{lifecycle, log};

fn main() {
    // Lambda requires `Lambda-Extension-Name` to be the executable's file name: read it, so
    // a renamed layer file keeps working.
    let name = std::env::args_os()
        .next()
        .and_then(|a| Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "autopilot-extension".to_owned());
    let lookup = |n: &str| std::env::var(n).ok();
    let config = match Config::from_lookup(lookup) {
        Ok(c) => c,
        Err(e) => {
            // One clear error, then keep serving with writing disabled: an extension that
            // exits fails the customer's environment.
            log::error("invalid configuration; stats writing is disabled", &[("error", &e)]);
            match Config::writing_disabled(lookup, &e) {
                Ok(c) => c,
                Err(fatal) => {
                    log::error("cannot run", &[("error", &fatal)]);
                    std::process::exit(1);
                }
            }
        }
    };
    let code = catch_unwind(AssertUnwindSafe(|| lifecycle::run(&config, &name))).unwrap_or_else(|_| {
        log::error("extension panicked", &[]);
        1
    });
    std::process::exit(code);
}
