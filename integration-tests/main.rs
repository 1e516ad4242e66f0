//! Black-box tests of devicelink over real HTTP, on SQLite and (when
//! DEVICELINK_TEST_POSTGRES_URL is set) on PostgreSQL.

mod helpers;

mod cli;
mod foundation;
mod linking;
mod mail;
mod mock_idp;
mod portal;
mod unlock;
