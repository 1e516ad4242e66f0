//! "This was not me — cancel" racing the phone's last linking step: whatever wins, the
//! page's sentence matches the database. It never says "Nothing was linked" while a
//! device is linked.

use crate::backend_tests;
use crate::helpers::{TestApp, location};

backend_tests!(
    cancel_racing_completion_always_reports_the_final_state,
    cancel_after_completion_says_too_late_and_offers_unlinking,
);

const ROUNDS: usize = 24;

async fn cancel_racing_completion_always_reports_the_final_state(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (mut linked, mut cancelled) = (0, 0);
    for round in 0..ROUNDS {
        let (id, scanned, csrf) = shown_code(&app).await;
        let mut device = app.device();
        let name = format!("Phone {round}");
        device.start_qr_link(&name).await.unwrap();
        device.redeem_qr(&scanned).await.unwrap();
        device.set_secret_code("482913").await.unwrap();
        let devices_before = app.count_rows("devices");

        let cancel = app
            .client
            .post(app.url(&format!("/devices/link/{id}/cancel")))
            .form(&[("csrf_token", csrf.as_str())])
            .send();
        let (completed, cancel) = tokio::join!(device.complete(), cancel);
        let cancel = cancel.unwrap();
        assert_eq!(cancel.status(), 303, "round {round}");
        let page = app.get(&page_of(&cancel)).await.text().await.unwrap();

        let is_linked = app.count_rows("devices") == devices_before + 1;
        assert_eq!(
            completed.is_ok(),
            is_linked,
            "round {round}: the app's answer matches the database ({completed:?})"
        );
        if is_linked {
            linked += 1;
            assert!(
                page.contains("status-linked") && page.contains(&name),
                "round {round}: a linked device is reported as linked: {page}"
            );
            assert!(page.contains("id=\"unlink-device\""), "round {round}");
            assert!(!page.contains("Nothing was linked"), "round {round}");
        } else {
            cancelled += 1;
            assert!(
                page.contains("status-cancelled") && page.contains("Nothing was linked"),
                "round {round}: a cancelled link is reported as cancelled: {page}"
            );
            assert_eq!(
                app.count_rows(&format!(
                    "link_codes WHERE id = '{id}' AND status = 'cancelled'"
                )),
                1,
                "round {round}"
            );
        }
    }
    // Both outcomes are legitimate; the point is that each is reported truly.
    assert_eq!(linked + cancelled, ROUNDS);
    eprintln!("cancel/complete races: {linked} linked, {cancelled} cancelled");
}

async fn cancel_after_completion_says_too_late_and_offers_unlinking(app: TestApp) {
    app.sign_in_registered("marie", "luxtrust_mobile").await;
    let (id, scanned, csrf) = shown_code(&app).await;
    let mut device = app.device();
    device
        .link_with_qr("Thief phone", &scanned, "482913", false)
        .await
        .unwrap();
    let res = app
        .client
        .post(app.url(&format!("/devices/link/{id}/cancel")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = app.get(&page_of(&res)).await.text().await.unwrap();
    assert!(page.contains("Too late to cancel"), "{page}");
    assert!(page.contains("Thief phone") && page.contains("id=\"unlink-device\""));
    assert!(!page.contains("Nothing was linked"));
    assert_eq!(app.count_rows("devices WHERE status = 'active'"), 1);
    assert_eq!(
        app.count_rows(&format!(
            "link_codes WHERE id = '{id}' AND status = 'redeemed'"
        )),
        1,
        "the code is left as it was"
    );
    assert_eq!(
        app.count_rows("audit_events WHERE kind = 'link_cancelled'"),
        0
    );
}

/// A new QR code in the signed-in browser: its id, the text a phone scans, and the
/// status page's CSRF token.
async fn shown_code(app: &TestApp) -> (String, String, String) {
    let (id, code) = app.new_qr_code("").await;
    let scanned = app.scan_qr(&id, &code).await;
    let page = app
        .get(&format!("/devices/link/{id}"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::hidden_value(&page, "csrf_token");
    (id, scanned, csrf)
}

/// The path and query of a redirect's `Location`.
fn page_of(res: &reqwest::Response) -> String {
    let url = location(res);
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}
