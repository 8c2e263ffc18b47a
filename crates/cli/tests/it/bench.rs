//! The benchmark harness's result checks (bench/lib.sh): every bench script compares both
//! sides' results with them and exits non-zero when they differ; bench/selftest.sh feeds them
//! equal and wrong results (a changed cell, a missing or extra row, a number outside its
//! tolerance, an extra set member) and fails unless each verdict is the expected one.

#[test]
fn bench_checks_fail_on_a_wrong_result() {
    let root = crate::common::repo_root();
    let out = std::process::Command::new("bash")
        .arg(root.join("bench/selftest.sh"))
        .current_dir(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench/selftest.sh failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("# fail 0"), "{text}");
    let passed: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(passed >= 10, "{text}");
}
