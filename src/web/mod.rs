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
//! - [`continue_to`]: where a sign-in continues (allow-listed pages only) and the home
//!   page's notices ("Sign in to continue", "You have signed out.").
//! - [`error`]: the error page every [`crate::http::PageError`] renders as.
//!
//! - [`language`]: the header's language switcher (`POST /language`), the `lang` cookie
//!   and the safe return path. The language itself is chosen per request by
//!   [`crate::i18n::middleware`]; pages read it with [`crate::i18n::current`].

pub mod continue_to;
pub mod error;
pub mod language;
pub mod login;
pub mod nav;
pub mod page;
pub mod session;
pub mod store;

pub use nav::NavUser;
pub use page::{
    csrf_failed, current_session, escape_html, form_session, format_time, html, now, see_other,
};
