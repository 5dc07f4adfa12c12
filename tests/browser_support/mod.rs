//! The browser check shared by the report tests: render a page in headless
//! Chromium (Debian's `chromium`, installed by `scripts/setup.sh` and
//! `scripts/test.sh`) and read back the DOM. Without a Chromium it says so
//! and returns; the string-level checks in each test still run.

use std::path::Path;

/// Render the page in headless Chromium when it is installed: the script
/// ran, every chart is in the DOM, and the CSP reported no violation.
pub fn browser_check(html: &Path, charts: usize) {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        eprintln!("skipped the browser check: no chromium (the string-level checks ran)");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script ran: {}",
        &dom[..dom.len().min(400)]
    );
    assert!(
        dom.contains(&format!("data-charts=\"{charts}\"")),
        "charts in the DOM"
    );
    assert_eq!(
        dom.matches("class=\"axes\"").count(),
        charts,
        "every chart drew its axes"
    );
    assert!(
        dom.matches("<g class=\"point").count() >= charts,
        "the charts have points"
    );
    assert!(
        dom.contains("data-csp-violations=\"0\""),
        "no CSP violation"
    );
}
