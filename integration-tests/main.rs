//! Black-box tests of devicelink over real HTTP, on SQLite and (when
//! DEVICELINK_TEST_POSTGRES_URL is set) on PostgreSQL.

mod helpers;

mod bench_smoke;
mod cli;
mod device_cli;
mod foundation;
mod linking;
mod luxtrust;
mod mail;
mod manage;
mod mock_idp;
mod portal;
mod unlock;
