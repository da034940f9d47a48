//! What a restart may trust: a damaged checkpoint, one of another input, a position beyond
//! the source and a state directory in use are all refused, each naming what is wrong.

use std::path::Path;
use std::time::Duration;

use slate_core::WindowKind;
use slate_stream::checkpoint::{CHECKPOINT, LOCK, load_checkpoint, save_checkpoint};
use slate_stream::{LateMode, RunSpec, SourceSpec, Summary, run_stream};

use super::{config, dataset, rt, spec};

fn replay(data: &Path) -> SourceSpec {
    SourceSpec::Replay {
        inputs: vec![data.to_string_lossy().into_owned()],
        speed: None,
    }
}

fn with_state(source: SourceSpec, out: &Path, state: &Path) -> RunSpec {
    RunSpec {
        state_dir: Some(state.to_path_buf()),
        checkpoint_every: Duration::ZERO,
        ..spec(source, out)
    }
}

fn run(source: SourceSpec, out: &Path, state: &Path) -> slate_stream::Result<Summary> {
    rt().block_on(run_stream(
        config(WindowKind::Month, LateMode::Drop),
        with_state(source, out, state),
    ))
}

/// One digit changed inside the checkpoint (still valid JSON): refused, naming the file,
/// neither resumed nor restarted from zero.
#[test]
fn a_checkpoint_with_one_digit_changed_is_refused_naming_the_file() {
    let data = dataset(1_500);
    let (out, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = run(replay(data.path()), out.path(), state.path()).unwrap();
    let path = state.path().join(CHECKPOINT);
    let mut text = std::fs::read_to_string(&path).unwrap();
    let at = text.find("\"position\":").unwrap() + "\"position\":".len();
    let digit = text[at..].find(|c: char| !c.is_ascii_digit()).unwrap() + at - 1;
    let was = text.as_bytes()[digit];
    let now = if was == b'9' { "8" } else { "9" };
    text.replace_range(digit..=digit, now);
    std::fs::write(&path, &text).unwrap();
    let e = run(replay(data.path()), out.path(), state.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checksum mismatch") && e.contains(&path.display().to_string()),
        "{e}"
    );
    // An empty checkpoint is not "no checkpoint": it is refused too.
    std::fs::write(&path, "").unwrap();
    let e = run(replay(data.path()), out.path(), state.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a slate checkpoint"), "{e}");
    assert!(s.updates > 0);
}

/// A checkpoint whose position is beyond what the source holds (checksum intact) is refused
/// once the source has given everything, and nothing is emitted from it.
#[test]
fn a_checkpoint_position_beyond_the_source_is_refused() {
    let data = dataset(1_500);
    let (out, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = run(replay(data.path()), out.path(), state.path()).unwrap();
    let cfg = config(WindowKind::Month, LateMode::Drop);
    let mut st = load_checkpoint(state.path(), &cfg, &replay(data.path()))
        .unwrap()
        .unwrap();
    assert_eq!(st.position, s.updates);
    st.position = 99_999_999;
    st.done = false;
    // Were it resumed, the emissions after the first would be rewritten: the refusal keeps them.
    st.seq = 1;
    let emissions = || {
        std::fs::read_dir(out.path().join("emissions"))
            .unwrap()
            .count()
    };
    let before = emissions();
    assert!(before > 1);
    save_checkpoint(state.path(), &cfg, &replay(data.path()), st).unwrap();
    let e = run(replay(data.path()), out.path(), state.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "position 99999999 is beyond the source, which holds {} updates",
            s.updates
        )) && e.contains(CHECKPOINT),
        "{e}"
    );
    assert_eq!(emissions(), before);
}

/// A state directory is resumed only over the input that wrote it: another dataset, or the
/// same file rewritten (size or modification time), is refused.
#[test]
fn a_state_directory_of_another_input_is_refused() {
    let (a, b) = (dataset(1_500), dataset(1_200));
    let (out, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(replay(a.path()), out.path(), state.path()).unwrap();
    // The same input resumes.
    let s = run(replay(a.path()), out.path(), state.path()).unwrap();
    assert!(s.resumed);
    let e = run(replay(b.path()), out.path(), state.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("written for another input") && e.contains(CHECKPOINT),
        "{e}"
    );
    // One file of the input rewritten in place: its modification time moved.
    let file =
        slate_io::expand_inputs(&[a.path().to_string_lossy().into_owned()]).unwrap()[0].clone();
    let f = std::fs::File::options().write(true).open(&file).unwrap();
    let mtime = f.metadata().unwrap().modified().unwrap();
    f.set_modified(mtime + Duration::from_secs(60)).unwrap();
    let e = run(replay(a.path()), out.path(), state.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("changed since the checkpoint was written"),
        "{e}"
    );
}

/// Two streams on one state directory: the second fails at once, naming the first's process;
/// once the first is gone, the directory is free again.
#[test]
fn a_second_stream_on_a_state_directory_in_use_fails_at_once() {
    let feed = tempfile::tempdir().unwrap();
    let (out, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let live = SourceSpec::Dir {
        path: feed.path().to_path_buf(),
        once: false,
    };
    let rt = rt();
    let first = rt.spawn(run_stream(
        config(WindowKind::Month, LateMode::Drop),
        with_state(live.clone(), out.path(), state.path()),
    ));
    let pid = std::process::id().to_string();
    let lock = state.path().join(LOCK);
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != pid {
        assert!(t0.elapsed() < Duration::from_secs(20), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = std::time::Instant::now();
    let e = rt
        .block_on(run_stream(
            config(WindowKind::Month, LateMode::Drop),
            with_state(live, out.path(), state.path()),
        ))
        .unwrap_err()
        .to_string();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        e.contains("is in use by another stream")
            && e.contains(&format!("process {pid}"))
            && e.contains(&state.path().display().to_string()),
        "{e}"
    );
    first.abort();
    assert!(rt.block_on(first).unwrap_err().is_cancelled());
    let once = SourceSpec::Dir {
        path: feed.path().to_path_buf(),
        once: true,
    };
    rt.block_on(run_stream(
        config(WindowKind::Month, LateMode::Drop),
        with_state(once, out.path(), state.path()),
    ))
    .unwrap();
}
