//! Citizens linking, unlocking, refreshing and unlinking again and again through the
//! balancer while an instance is killed or the database goes away; and the rule every
//! link interrupted on the way must satisfy once the service is back.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use devicelink::device_client::{ClientError, DeviceClient};
use reqwest::Method;
use serde_json::Value;

use super::CODE;
use crate::helpers::TestApp;
use crate::invariants::{count, texts_of};

/// The steps of a QR link, in order: where an interrupted link stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkStep {
    Start,
    Redeem,
    SecretCode,
    Complete,
}

/// A link whose step failed (its instance died, the database was gone).
pub struct Interrupted {
    pub device: DeviceClient,
    pub stopped: LinkStep,
    /// The browser's QR code (id and code): a retried scan reads a fresh frame of it.
    pub code_id: String,
    pub code: String,
}

/// What one load task leaves for the checks.
pub struct Journeys {
    /// Its browser, signed in: the QR codes belong to this session.
    pub browser: reqwest::Client,
    pub interrupted: Vec<Interrupted>,
    /// Linked devices whose unlock, refresh or unlink failed afterwards.
    pub linked_then_failed: Vec<DeviceClient>,
}

/// The QR code the browser shows now: (id, code, what the camera reads).
async fn show_qr_code(
    app: &TestApp,
    browser: &reqwest::Client,
) -> Option<(String, String, String)> {
    // Always a new code ("Generate a new QR code"), as each simulated citizen scans one.
    let res = browser
        .get(app.url("/devices/link?new=1"))
        .send()
        .await
        .ok()?;
    if res.status() != 200 {
        return None;
    }
    let page = res.text().await.ok()?;
    if !page.contains("data-link-id") {
        return None;
    }
    let (id, code) = (
        crate::helpers::attr(&page, "data-link-id"),
        crate::helpers::attr(&page, "data-code"),
    );
    let scanned = fresh_frame(app, browser, &id, &code).await?;
    Some((id, code, scanned))
}

/// What a camera reads from the code's QR image right now.
async fn fresh_frame(
    app: &TestApp,
    browser: &reqwest::Client,
    id: &str,
    code: &str,
) -> Option<String> {
    let png = browser
        .get(app.url(&format!("/devices/link/{id}/qr.png?c={code}")))
        .send()
        .await
        .ok()?;
    if png.status() != 200 {
        return None;
    }
    devicelink::device_client::camera::decode_png(&png.bytes().await.ok()?).ok()
}

/// Starts a task that links, unlocks, refreshes and unlinks devices until `stop` (at most
/// two minutes), recording every link that stopped on the way and where.
pub fn journey_load(app: Arc<TestApp>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Journeys> {
    tokio::spawn(async move {
        // Its own browser: one session shows one QR code at a time.
        let browser = crate::helpers::http_client();
        let login = browser.get(app.url("/auth/login")).send().await.unwrap();
        let authorize = crate::helpers::location(&login);
        let callback = devicelink::mock_idp::script::complete_login(
            &browser,
            &authorize,
            "marie",
            "luxtrust_mobile",
        )
        .await
        .unwrap();
        let signed_in = browser.get(callback).send().await.unwrap();
        assert_eq!(crate::helpers::location_path(&signed_in), "/dashboard");
        let mut interrupted = Vec::new();
        let mut linked_then_failed = Vec::new();
        // Bounded in time, not in rounds: while an instance restarts every request fails
        // at once, and a round count would be used up before it is back.
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Some((code_id, code, scanned)) = show_qr_code(&app, &browser).await else {
                continue;
            };
            let mut device = app.device();
            let stopped = if device.start_qr_link("phone").await.is_err() {
                Some(LinkStep::Start)
            } else if device.redeem_qr(&scanned).await.is_err() {
                Some(LinkStep::Redeem)
            } else if device.set_secret_code(CODE).await.is_err() {
                Some(LinkStep::SecretCode)
            } else if device.complete().await.is_err() {
                Some(LinkStep::Complete)
            } else {
                None
            };
            if let Some(stopped) = stopped {
                eprintln!("link interrupted at {stopped:?}");
                interrupted.push(Interrupted {
                    device,
                    stopped,
                    code_id,
                    code,
                });
                continue;
            }
            if device.unlock_with_secret_code(CODE).await.is_err()
                || device.refresh().await.is_err()
                || device.unlink().await.is_err()
            {
                linked_then_failed.push(device);
            }
        }
        Journeys {
            browser,
            interrupted,
            linked_then_failed,
        }
    })
}

/// Links bound to an account whose secret code or completion is still to come.
pub fn links_mid_way(app: &TestApp) -> HashSet<String> {
    texts_of(
        app,
        "SELECT id AS v FROM link_sessions WHERE state IN ('account_bound', 'secret_code_set')",
    )
    .into_iter()
    .collect()
}

/// Waits (polling every few milliseconds, at most `limit`) until a link not in `known`
/// is half-way, so that a fault injected right then interrupts it.
pub async fn until_a_link_is_mid_way(app: &TestApp, known: &HashSet<String>, limit: Duration) {
    let started = Instant::now();
    while links_mid_way(app).is_subset(known) {
        assert!(
            started.elapsed() < limit,
            "no link reached the middle within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The app's view of its link (`GET /api/v1/links/{id}`).
async fn link_view(device: &mut DeviceClient) -> Result<Value, ClientError> {
    let id = device.state.link_id.clone().unwrap_or_default();
    device
        .call(Method::GET, &format!("/api/v1/links/{id}"), None, None)
        .await
}

/// The states a link may be in once `step` was done.
fn past(step: LinkStep) -> &'static [&'static str] {
    match step {
        LinkStep::Start => &["created", "account_bound", "secret_code_set", "completed"],
        LinkStep::Redeem => &["account_bound", "secret_code_set", "completed"],
        LinkStep::SecretCode => &["secret_code_set", "completed"],
        LinkStep::Complete => &["completed"],
    }
}

/// Retries an interrupted link from the step where it stopped, as the app does after an
/// error. A step refused with `invalid_link_state` while the link stands past it had been
/// done before the fault; only its answer was lost.
async fn resume(
    app: &TestApp,
    browser: &reqwest::Client,
    it: &mut Interrupted,
) -> Result<(), ClientError> {
    for step in [LinkStep::Redeem, LinkStep::SecretCode, LinkStep::Complete] {
        if step < it.stopped {
            continue;
        }
        let done = match step {
            LinkStep::Redeem => {
                let scanned = fresh_frame(app, browser, &it.code_id, &it.code)
                    .await
                    .expect("the browser shows its QR code again");
                it.device.redeem_qr(&scanned).await.map(drop)
            }
            LinkStep::SecretCode => it.device.set_secret_code(CODE).await.map(drop),
            _ => it.device.complete().await.map(drop),
        };
        let Err(err) = done else {
            continue;
        };
        if err.code() != Some("invalid_link_state") {
            return Err(err);
        }
        let view = link_view(&mut it.device).await?;
        if !past(step).contains(&view["state"].as_str().unwrap_or_default()) {
            return Err(err);
        }
        if step == LinkStep::Complete {
            it.device.state.device_id = view["device_id"].as_str().map(str::to_owned);
        }
    }
    Ok(())
}

/// Every interrupted link, retried from where it stopped, ends one of exactly two ways:
/// linked once and completely (one live device for its key, the link completed with that
/// device, its `device_linked` event; and it unlocks), or nothing linked at all (no live
/// device, the link not completed). A link stopped after its QR code was redeemed must
/// complete: nothing but an answer was lost. Only a retried scan may fail, because the
/// browser showed a newer code meanwhile (`qr_code_expired`). Returns how many links were
/// interrupted after they had started.
pub async fn check_interrupted(app: &TestApp, journeys: Vec<Journeys>) -> usize {
    let mut mid_way = 0;
    for mut journey in journeys {
        for it in &mut journey.interrupted {
            let jkt = it.device.key().thumbprint().to_owned();
            let live = || {
                count(
                    app,
                    &format!(
                        "SELECT COUNT(*) AS n FROM devices WHERE jkt = '{jkt}' AND status <> 'unlinked'"
                    ),
                )
            };
            let Some(link_id) = it.device.state.link_id.clone() else {
                // The start's answer was lost: whatever was created, nothing was linked.
                assert_eq!(it.stopped, LinkStep::Start);
                assert_eq!(live(), 0, "a link that never started linked a device");
                continue;
            };
            mid_way += 1;
            let result = resume(app, &journey.browser, it).await;
            let completed = count(
                app,
                &format!(
                    "SELECT COUNT(*) AS n FROM link_sessions ls JOIN devices d \
                     ON d.id = ls.device_id AND d.jkt = ls.device_jkt \
                     WHERE ls.id = '{link_id}' AND ls.state = 'completed'"
                ),
            );
            match result {
                Ok(()) => {
                    assert_eq!(
                        (live(), completed),
                        (1, 1),
                        "a link resumed at {:?} is linked once",
                        it.stopped
                    );
                    let device_id = it.device.state.device_id.clone().expect("a device id");
                    let events = count(
                        app,
                        &format!(
                            "SELECT COUNT(*) AS n FROM audit_events \
                             WHERE kind = 'device_linked' AND device_id = '{device_id}'"
                        ),
                    );
                    assert_eq!(events, 1, "one `device_linked` event");
                    it.device
                        .unlock_with_secret_code(CODE)
                        .await
                        .expect("a resumed link unlocks");
                }
                Err(err) => {
                    assert_eq!(
                        (it.stopped, err.code()),
                        (LinkStep::Redeem, Some("qr_code_expired")),
                        "a link stopped at {:?} did not resume: {err}",
                        it.stopped
                    );
                    assert_eq!(
                        (live(), completed),
                        (0, 0),
                        "a link that could not resume left something linked"
                    );
                }
            }
        }
        for device in &journey.linked_then_failed {
            let jkt = device.key().thumbprint();
            let live = count(
                app,
                &format!(
                    "SELECT COUNT(*) AS n FROM devices WHERE jkt = '{jkt}' AND status <> 'unlinked'"
                ),
            );
            assert!(live <= 1, "a key linked twice");
        }
    }
    mid_way
}
