//! End-to-end tests: the real pbx-server binary against SIP user agents we did not write.
//! Needs `sipp` (Debian sip-tester), `tcpdump` and `baresip`; the README's test command
//! installs them.

#![allow(clippy::unwrap_used)]

mod baresip;
mod bindings;
mod blf;
mod calls;
mod control;
mod crash;
mod cti;
mod cti_core;
mod desktop;
mod desktop_api;
mod licence;
mod malformed;
mod postgres;
mod queue_cti;
mod queue_music;
mod queues;
mod register;
mod rest;
mod rest_admin;
mod rest_callcenter;
mod rest_calls;
mod rest_cdr;
mod rest_operation;
mod rest_postgres;
mod rest_queue_ops;
mod rest_schemathesis;
mod rest_tenants;
mod rest_util;
mod services;
mod softphone;
mod softphone_baresip;
mod softphone_sound_card;
mod softphone_transfer;
mod ui;
mod ui_callcenter;
mod ui_run;
