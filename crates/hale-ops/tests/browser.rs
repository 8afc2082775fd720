//! The live page in a real browser: headless Chromium loads it from a test
//! server with a running tree, a child crashes, and the page shows the
//! restart. Skipped, with one line saying so, where Chromium is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hale_ops::browser::{BrowserError, Chromium};
use support::TestTree;

/// How long the page may take to show a restart. Generous: this is a bound
/// on a wait, not a timing goal (the benchmark measures that).
const SHOWN_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_a_crashed_child_restart_live() {
    let browser = match Chromium::launch().await {
        Ok(browser) => browser,
        Err(BrowserError::NotInstalled) if std::env::var_os("HALE_REQUIRE_CHROMIUM").is_none() => {
            println!("skipped: chromium is not installed (apt-get install chromium, or .ci/ops)");
            return;
        }
        Err(error) => panic!("{error}"),
    };
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let server = ops.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let page = browser
        .open(&format!("http://{}/", server.local_addr()))
        .await
        .unwrap();

    let flaky = r#"document.querySelector('[data-path="root/flaky"]')"#;
    page.wait_for(
        &format!("window.hale.snapshots > 0 && {flaky} !== null"),
        SHOWN_WITHIN,
    )
    .await
    .unwrap();
    let before = page
        .evaluate(&format!("{flaky}.querySelector('.restarts').dataset.count"))
        .await
        .unwrap();
    assert_eq!(before, "0");
    assert_eq!(
        page.evaluate(&format!("{flaky}.dataset.state")).await.unwrap(),
        "running"
    );
    page.wait_for(
        "document.getElementById('connection').dataset.state === 'live'",
        SHOWN_WITHIN,
    )
    .await
    .unwrap();

    tree.crash.notify_one();
    page.wait_for(
        &format!(
            "{flaky}.querySelector('.restarts').dataset.count === '1' && {flaky}.dataset.state === 'running'"
        ),
        SHOWN_WITHIN,
    )
    .await
    .unwrap();
    // The root's intensity window counts it (redrawn from /tree shortly after).
    page.wait_for(
        r#"document.querySelector('[data-path="root"] > .row .window').textContent === '1 of 3 in 5 s'"#,
        SHOWN_WITHIN,
    )
    .await
    .unwrap();
    // The last error shows on hover (the row's title) and beside the row.
    let title = page
        .evaluate(&format!("{flaky}.querySelector('.row').title"))
        .await
        .unwrap();
    assert!(
        title.as_str().unwrap().contains("boom: the flaky agent crashed"),
        "{title}"
    );
    let error = page
        .evaluate(&format!("{flaky}.querySelector('.error').textContent"))
        .await
        .unwrap();
    assert!(error.as_str().unwrap().contains("boom"), "{error}");
    // ... and in the details panel on click.
    page.evaluate(&format!("{flaky}.querySelector('.row').click()"))
        .await
        .unwrap();
    let details = page
        .evaluate("document.getElementById('d-exit').textContent")
        .await
        .unwrap();
    assert!(details.as_str().unwrap().contains("boom"), "{details}");
    // The other children kept their state and count.
    let steady = r#"document.querySelector('[data-path="root/steady"] .restarts').dataset.count"#;
    assert_eq!(page.evaluate(steady).await.unwrap(), "0");

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hale-ops-live-tree.png");
    page.screenshot(&shot).await.unwrap();
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    println!("screenshot: {}", shot.display());
    server.shutdown().await;
    tree.stop().await;
}

/// Regenerates the screenshot in docs/operations.md from a running service:
///
/// ```text
/// cargo run --release --example document_pipeline -- --items 200 --serve 127.0.0.1:9191 &
/// HALE_SCREENSHOT_URL=http://127.0.0.1:9191/ HALE_SCREENSHOT_OUT=docs/images/live-tree.png \
///     cargo test -p hale-ops --test browser -- --ignored docs_screenshot
/// ```
#[tokio::test]
#[ignore = "a tool: needs a running service at $HALE_SCREENSHOT_URL"]
async fn docs_screenshot() {
    let url = std::env::var("HALE_SCREENSHOT_URL").expect("set HALE_SCREENSHOT_URL");
    let out = std::env::var("HALE_SCREENSHOT_OUT").expect("set HALE_SCREENSHOT_OUT");
    let browser = Chromium::launch().await.unwrap();
    let page = browser.open(&url).await.unwrap();
    page.wait_for("window.hale.snapshots > 0", SHOWN_WITHIN)
        .await
        .unwrap();
    // Let a few events arrive, and show the node that restarted most.
    page.wait_for("window.hale.applied >= 3", Duration::from_secs(60))
        .await
        .unwrap();
    page.evaluate(
        "(() => { const rows = [...document.querySelectorAll('.node')];
           rows.sort((a, b) => b.querySelector('.restarts').dataset.count - a.querySelector('.restarts').dataset.count);
           rows[0].querySelector('.row').click(); })()",
    )
    .await
    .unwrap();
    page.screenshot(std::path::Path::new(&out)).await.unwrap();
}
