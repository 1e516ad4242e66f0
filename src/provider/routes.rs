//! The provider's routes, one file per endpoint: discovery, authorize (with the eAccess
//! broker and consent), token, userinfo, revocation and introspection, RP-initiated
//! logout; the app approval has its own (`approval`). Shared plumbing is in `endpoint`
//! (JSON endpoints) and `flow` (the authorization request's life).

use actix_web::web;

use super::{authorize, discovery, introspect, logout, par, token, userinfo};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::discovery),
    )
    .route("/oidc/authorize", web::get().to(authorize::authorize_get))
    .route("/oidc/authorize", web::post().to(authorize::authorize_post))
    .route(
        "/oidc/authorize/eaccess",
        web::get().to(authorize::broker_to_eaccess),
    )
    .route("/oidc/authorize/resume", web::get().to(authorize::resume))
    .route("/oidc/authorize/cancel", web::get().to(authorize::cancel))
    .route(
        "/oidc/authorize/consent",
        web::post().to(authorize::consent),
    )
    .route("/oidc/token", web::post().to(token::token))
    .route("/oidc/par", web::post().to(par::push))
    .route("/oidc/userinfo", web::get().to(userinfo::userinfo))
    .route("/oidc/userinfo", web::post().to(userinfo::userinfo))
    .route("/oidc/revoke", web::post().to(introspect::revoke))
    .route("/oidc/introspect", web::post().to(introspect::introspect))
    .route("/oidc/logout", web::get().to(logout::logout_get))
    .route("/oidc/logout", web::post().to(logout::logout_post))
    .configure(super::approval::configure);
}
