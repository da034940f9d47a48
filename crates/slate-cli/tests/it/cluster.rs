//! `slate cluster` and `slate run --cluster`: a scheduler and two executors on loopback, as
//! separate processes of the slate binary, against the local run of the same question.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use crate::cli::{free_port, slate};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/canonical-small"
);

/// The processes of a cluster, killed when the test ends however it ends.
struct Cluster {
    url: String,
    scheduler: Child,
    executors: Vec<Child>,
    work: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits for a line of `child`'s standard error containing `mark`; returns it.
fn wait_for_line(child: &mut Child, mark: &str) -> String {
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    loop {
        let Some(Ok(line)) = lines.next() else {
            panic!("process ended before printing {mark:?}: {seen:?}");
        };
        if line.contains(mark) {
            // Keep draining so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return line;
        }
        seen.push(line);
    }
}

/// Starts a scheduler on a free loopback port and `n` executors of two slots each.
fn start_cluster(n: usize, scheduler_args: &[&str]) -> Cluster {
    start_cluster_with_env(n, scheduler_args, &[])
}

/// [`start_cluster`] with environment variables for every process (e.g. the S3 endpoint).
fn start_cluster_with_env(
    n: usize,
    scheduler_args: &[&str],
    env: &[(&'static str, String)],
) -> Cluster {
    let work = tempfile::tempdir().unwrap();
    let mut scheduler = slate()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["cluster", "scheduler", "--bind", "127.0.0.1:0"])
        .args(scheduler_args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = wait_for_line(&mut scheduler, "slate cluster scheduler on ");
    let url = line
        .split("scheduler on ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut cluster = Cluster {
        url: url.clone(),
        scheduler,
        executors: Vec::new(),
        work,
    };
    for i in 0..n {
        let dir = cluster.work.path().join(format!("executor{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut e = slate()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["cluster", "executor", "--scheduler", &url, "--slots", "2"])
            .args(["--bind", &format!("127.0.0.1:{}", free_port())])
            .args(["--grpc-port", &free_port().to_string()])
            .args(["--heartbeat", "1", "--work-dir", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_line(&mut e, "slate cluster executor on ");
        cluster.executors.push(e);
    }
    cluster
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The accounting lines of a run's summary (every line but the timing).
fn accounts(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(str::to_string)
        .collect()
}

/// Runs `args` locally and on the cluster, writing CSV; asserts scorecard, ledger and the
/// accounting are identical, row by row.
fn same_locally_and_on_cluster(cluster: &Cluster, dir: &Path, name: &str, args: &[&str]) {
    let out = |side: &str| dir.join(format!("{name}.{side}.csv"));
    let local = slate()
        .arg("run")
        .args(args)
        .args(["--out", out("local").to_str().unwrap()])
        .output()
        .unwrap();
    ok(&local, &format!("{name} local"));
    let remote = slate()
        .arg("run")
        .args(args)
        .args(["--cluster", &cluster.url])
        .args(["--out", out("cluster").to_str().unwrap()])
        .output()
        .unwrap();
    ok(&remote, &format!("{name} on the cluster"));
    // The summary says where it ran and as how many tasks (the client's session sets them).
    let tasks = args
        .iter()
        .position(|a| *a == "--threads")
        .map(|i| format!(" as {} tasks (--threads)", args[i + 1]))
        .unwrap_or_else(|| " tasks (this machine's cores;".to_string());
    let said = String::from_utf8_lossy(&remote.stderr);
    assert!(
        said.contains(&format!("ran on the cluster at {}", cluster.url)) && said.contains(&tasks),
        "{name}: {said}"
    );
    for file in ["", ".exclusions"] {
        let read = |side: &str| {
            let p = PathBuf::from(
                out(side)
                    .to_str()
                    .unwrap()
                    .replace(".csv", &format!("{file}.csv")),
            );
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let (a, b) = (read("local"), read("cluster"));
        assert!(
            a.lines().count() > 1,
            "{name}{file}: an empty table proves nothing"
        );
        for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            assert_eq!(x, y, "{name}{file}: row {i} differs");
        }
        assert_eq!(a.lines().count(), b.lines().count(), "{name}{file}: rows");
    }
    assert_eq!(accounts(&local), accounts(&remote), "{name}: accounting");
}

#[test]
fn cluster_runs_equal_local_runs_row_by_row() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let o = slate()
        .args([
            "gen",
            "--rows",
            "60000",
            "--years",
            "2",
            "--from",
            "2022-01-01",
        ])
        .args(["--promises", "--dirty-rate", "0.01", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    ok(&o, "gen");
    // A calendar of the service's own (a closure day, a holiday worked): it must reach the
    // executors whole, not by name.
    let cal = t.path().join("cal.toml");
    std::fs::write(
        &cal,
        "name = \"service\"\nbase = \"england-and-wales\"\nclosed = [\"2022-06-01\", \
         \"2023-03-15\"]\nopen = [\"2022-12-26\"]\n",
    )
    .unwrap();
    let policy = t.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "name = \"mixed\"\n\
             [[measure]]\nid = \"attend\"\nstart = \"call_received\"\nstop = \"arrived\"\n\
             where = \"grade IN ('I', 'S')\"\nthreshold = \"20m\"\npercentiles = [0.5, 0.9, 0.99]\n\
             exclude = [{{ reason = \"cancelled\", where = \"cancelled\" }}]\n\
             [[measure]]\nid = \"ack\"\nstart = \"complaint_received\"\n\
             stop = \"complaint_acknowledged\"\nwhere = \"complaint_received IS NOT NULL\"\n\
             threshold = \"2wd\"\ncalendar = \"{}\"\n\
             [[measure]]\nid = \"kept\"\nkind = \"deadline\"\ndeadline = \"appointment_due\"\n\
             stop = \"arrived\"\ngrace = \"15m\"\nwhere = \"appointment_due IS NOT NULL\"\n\
             [[measure]]\nid = \"satisfied\"\nkind = \"share\"\nstart = \"surveyed\"\n\
             success = \"satisfied\"\nwhere = \"surveyed IS NOT NULL\"\n",
            cal.display()
        ),
    )
    .unwrap();
    let d = data.to_str().unwrap();
    let p = policy.to_str().unwrap();
    let cluster = start_cluster(2, &[]);
    // Questions of different shapes: window families, zones, groups, periods, percentile
    // definitions, every measure kind.
    let questions: [(&str, Vec<&str>); 5] = [
        ("monthly", vec!["-i", d]),
        (
            "full-weekly",
            vec![
                "-i",
                d,
                "--policy",
                "builtin:mps-promise-2008-full",
                "--window",
                "week",
            ],
        ),
        (
            "mixed-quarter-ny",
            vec![
                "-i",
                d,
                "--policy",
                p,
                "--window",
                "quarter",
                "--by",
                "borough",
                "--tz",
                "America/New_York",
            ],
        ),
        (
            "yearly-period-nearest",
            vec![
                "-i",
                d,
                "--window",
                "year",
                "--by",
                "grade,channel",
                "--from",
                "2022-03-01",
                "--to",
                "2023-06-01",
                "--percentile-method",
                "nearest-rank",
            ],
        ),
        (
            "daily-no-rollups-4-tasks",
            vec![
                "-i",
                d,
                "--policy",
                p,
                "--window",
                "day",
                "--by",
                "",
                "--no-rollups",
                "--threads",
                "4",
            ],
        ),
    ];
    for (name, args) in &questions {
        same_locally_and_on_cluster(&cluster, t.path(), name, args);
    }
}

#[test]
fn cluster_errors_are_clear() {
    // Nothing listens: the error names the address (and comes back at once, not after
    // Ballista's retries).
    let url = format!("df://127.0.0.1:{}", free_port());
    let o = slate()
        .args(["run", "-i", FIXTURE, "--cluster", &url])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("cannot reach the cluster scheduler at {url}")),
        "{err}"
    );
    for bad in ["127.0.0.1:50050", "df://host:port"] {
        let o = slate()
            .args(["run", "-i", FIXTURE, "--cluster", bad])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not a cluster address"), "{bad}: {err}");
    }
    // Binding beyond loopback takes a flag (Ballista has no authentication).
    let o = slate()
        .args(["cluster", "scheduler", "--bind", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--allow-remote"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A corrupt file among the inputs is named, as on one machine.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    crate::cli::generate(&data, "2000", "0");
    let bad = data.join("zz-corrupt.parquet");
    std::fs::write(&bad, b"PAR1 this is not parquet PAR1").unwrap();
    let cluster = start_cluster(1, &[]);
    let o = slate()
        .args([
            "run",
            "-i",
            data.to_str().unwrap(),
            "--cluster",
            &cluster.url,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("zz-corrupt.parquet"), "{err}");
}

#[test]
fn cluster_survives_a_killed_executor_with_the_local_figures() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let o = slate()
        .args([
            "gen",
            "--rows",
            "400000",
            "--years",
            "2",
            "--from",
            "2022-01-01",
            "--out",
        ])
        .arg(&data)
        .output()
        .unwrap();
    ok(&o, "gen");
    let d = data.to_str().unwrap();
    let local = t.path().join("local.csv");
    let o = slate()
        .args([
            "run",
            "-i",
            d,
            "--window",
            "week",
            "--out",
            local.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    ok(&o, "local");
    // Dead executors are noticed after 30 s without a heartbeat (one a second). Not 5: on a
    // loaded 2-core CI machine the surviving executor's heartbeats, which share its runtime
    // with the tasks, were once late by more than 5 s, so the scheduler took both for dead
    // and the job failed ("all executors were lost").
    let mut cluster = start_cluster(2, &["--executor-timeout", "30"]);
    let remote = t.path().join("cluster.csv");
    let run = slate()
        .args(["run", "-i", d, "--window", "week", "--threads", "24"])
        .args(["--cluster", &cluster.url, "--out", remote.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the first executor once it has written shuffle output of this job (its work
    // directory fills), i.e. while the job runs, not after a guessed delay.
    let work = cluster.work.path().join("executor0");
    let mut waited = 0;
    while std::fs::read_dir(&work).unwrap().next().is_none() && waited < 6000 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    let mut victim = cluster.executors.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let out = run.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // With one executor left, Ballista re-runs the lost executor's tasks there: the run must
    // succeed (measured: it did in every run here, under load too), and its figures must be the
    // local run's. A failure would at least have to name the cluster and the stage
    // (`slate_cluster::failure_context`, unit-tested), but it is not what happens.
    assert!(
        out.status.success(),
        "the run did not survive the loss of one of two executors:\n{err}"
    );
    for file in ["local", "local.exclusions"] {
        let a = std::fs::read_to_string(t.path().join(format!("{file}.csv"))).unwrap();
        let b = std::fs::read_to_string(
            t.path()
                .join(format!("{}.csv", file.replace("local", "cluster"))),
        )
        .unwrap();
        assert_eq!(
            a, b,
            "{file}: a run that lost an executor differs from the local run"
        );
    }
}

#[test]
#[ignore = "needs moto (pip install 'moto[server]'); scripts/ci.sh runs it"]
fn cluster_reads_s3_inputs_as_a_local_run_reads_the_files() {
    let moto = crate::s3::moto();
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    crate::s3::dataset(&data);
    crate::s3::upload(&moto, &data, "cad", "calls/");
    let env = moto.env();
    // The scheduler and the executors read the objects with their own environment.
    let cluster = start_cluster_with_env(2, &[], &env);
    let questions: [(&str, Vec<&str>); 2] = [
        ("monthly", vec![]),
        (
            "full-weekly-by-borough-4-tasks",
            vec![
                "--policy",
                "builtin:mps-promise-2008-full",
                "--window",
                "week",
                "--by",
                "borough",
                "--threads",
                "4",
            ],
        ),
    ];
    for (name, args) in &questions {
        crate::s3::same_on_disk_and_s3(
            &env,
            t.path(),
            name,
            &data,
            "s3://cad/calls/",
            args,
            &["--cluster", &cluster.url],
        );
    }
}
