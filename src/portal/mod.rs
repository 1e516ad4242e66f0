//! The citizen's web portal: home, sign-in through eAccess, registration, dashboard and
//! sign-out. Server-rendered pages, sessions in the database, CSRF on every form.

mod callback;
mod email;
pub mod pages;
mod register;
pub mod routes;
pub mod signin;

pub use routes::configure;
