//! Black-box tests of devicelink over real HTTP, on SQLite and (when
//! DEVICELINK_TEST_POSTGRES_URL is set) on PostgreSQL.

mod contract;
mod dead_ends;
mod helpers;
mod invariants;

mod process;

mod app_serving;
mod backchannel_logout;
mod bench_smoke;
mod cli;
mod code_reset;
mod conformance;
mod demo_portal;
mod device_cli;
mod eaccess_modes;
mod eaccess_peer;
mod faults;
mod foundation;
mod hostile;
mod languages;
mod languages_elsewhere;
mod link_races;
mod linking;
mod luxtrust;
mod mail;
mod manage;
mod metrics;
mod mock_idp;
mod openapi;
mod portal;
mod provider;
mod provider_app;
mod provider_dpop;
mod provider_fapi2;
mod provider_flows;
mod provider_par;
mod reauth_freshness;
mod rfc_errors;
mod small_holes;
mod step_up;
mod unlock;
mod walls;
