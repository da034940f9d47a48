//! The commands as a user runs them.

use std::process::Command;

pub(crate) fn slate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slate"))
}

#[test]
fn help_lists_the_commands() {
    let out = slate().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for c in ["gen", "validate", "run", "policy", "demo"] {
        assert!(text.contains(c), "{c} missing from --help:\n{text}");
    }
}
