//! The web kit: everything a server-rendered page needs, in one place. Every feature
//! with pages (portal, devices, linking, provider) uses it; none of them imports
//! another feature's routes or pages.
//!
//! - [`session`] and [`store`]: browser sessions (cookie, CSRF token) and the eAccess
//!   sign-ins in flight, kept in the database.
//! - [`page`]: rendering a page, redirects, the current session, the CSRF refusal.
//! - [`nav`]: the signed-in citizen in the page header.
//! - [`login`]: starting an eAccess login (sign-in, re-authentication, LuxTrust linking,
//!   a portal's sign-in through the provider) and the purpose its callback dispatches on.
//! - [`error`]: the error page every [`crate::http::PageError`] renders as.
//!
//! - [`language`]: the header's language switcher (`POST /language`), the `lang` cookie
//!   and the safe return path. The language itself is chosen per request by
//!   [`crate::i18n::middleware`]; pages read it with [`crate::i18n::current`].

pub mod error;
pub mod language;
pub mod login;
pub mod nav;
pub mod page;
pub mod session;
pub mod store;

pub use nav::NavUser;
pub use page::{csrf_failed, current_session, form_session, format_time, html, now, see_other};
