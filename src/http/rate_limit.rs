//! Fixed-window rate limits kept in the database, so every instance counts together.
//! A flood from one address or one device key fills only its own buckets.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::rate_limits;
use crate::db::{DbConnection, StoreError};

use super::ApiError;

/// Counts one hit in `bucket`; returns the seconds to wait when over `limit`.
pub fn hit(
    conn: &mut DbConnection,
    bucket: &str,
    limit: u32,
    window_secs: i64,
    now: NaiveDateTime,
) -> Result<Option<i64>, StoreError> {
    let window_open_after = now - Duration::seconds(window_secs);
    for _ in 0..3 {
        let bumped = diesel::update(
            rate_limits::table
                .find(bucket)
                .filter(rate_limits::window_start.gt(window_open_after)),
        )
        .set(rate_limits::hits.eq(rate_limits::hits + 1))
        .execute(conn)?;
        if bumped == 0 {
            diesel::delete(
                rate_limits::table
                    .find(bucket)
                    .filter(rate_limits::window_start.le(window_open_after)),
            )
            .execute(conn)?;
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(rate_limits::table)
                    .values((
                        rate_limits::bucket.eq(bucket),
                        rate_limits::window_start.eq(now),
                        rate_limits::hits.eq(1),
                    ))
                    .execute(conn)
                    .map_err(StoreError::from)
            });
            match inserted {
                Ok(_) => return Ok(None),
                // Another request opened the window first: count in it.
                Err(StoreError::UniqueViolation) => continue,
                Err(e) => return Err(e),
            }
        }
        let (start, hits): (NaiveDateTime, i32) = rate_limits::table
            .find(bucket)
            .select((rate_limits::window_start, rate_limits::hits))
            .first(conn)?;
        if hits as u32 > limit {
            let retry = (start + Duration::seconds(window_secs) - now)
                .num_seconds()
                .max(1);
            // One line per bucket and window (its first refusal), not one per refused
            // request, so a flood does not flood the logs. The bucket's subject (an
            // address, a key) stays out of the log; the request id leads to the request.
            if hits as u32 == limit.saturating_add(1) {
                tracing::warn!(
                    bucket = bucket_kind(bucket),
                    limit,
                    retry_after_secs = retry,
                    "rate limit reached; refusing until the window ends"
                );
            }
            return Ok(Some(retry));
        }
        return Ok(None);
    }
    Ok(None)
}

/// What a bucket counts (`qr:ip`, `unlock:key`, ...) without whose bucket it is.
fn bucket_kind(bucket: &str) -> &str {
    match bucket.match_indices(':').nth(1) {
        Some((end, _)) => &bucket[..end],
        None => bucket.split(':').next().unwrap_or_default(),
    }
}

/// The 429 answer with `Retry-After`.
pub fn too_many_requests(retry_after_secs: i64) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        crate::i18n::t("api-rate-limited"),
    )
    .with_field("retry_after", retry_after_secs);
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        err = err.with_header(RETRY_AFTER, value);
    }
    err
}

#[cfg(test)]
mod tests {
    use super::bucket_kind;

    #[test]
    fn the_logged_bucket_names_what_is_counted_not_whose_it_is() {
        assert_eq!(bucket_kind("qr:ip:203.0.113.7"), "qr:ip");
        assert_eq!(bucket_kind("unlock:ip:2001:db8::1"), "unlock:ip");
        assert_eq!(bucket_kind("link:account:5f0c"), "link:account");
        assert_eq!(bucket_kind("plain"), "plain");
    }
}
