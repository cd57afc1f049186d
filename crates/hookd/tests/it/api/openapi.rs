//! `GET /v1/openapi.json`: public, OpenAPI 3.1, every error documented with the shared
//! error body, every reference resolvable, and every operation in it covered by a test.
//!
//! [`COVERAGE`] maps each operation of the document to the tests that exercise it over
//! HTTP. [`every_operation_in_the_document_has_a_test`] fails when the document gains an
//! operation the table does not list (add the route's tests and its row), when a row
//! lists no test, or when a listed test does not exist.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{TestGateway, api_token};

/// Each operation of the document (method, path) and the tests that cover it, named by
/// their path in this test binary.
const COVERAGE: &[(&str, &str, &[&str])] = &[
    (
        "GET",
        "/v1/events",
        &[
            "api::events::the_list_shows_the_tenants_events_newest_first_with_status_and_job_count",
            "api::events::each_filter_narrows_the_list_to_exactly_the_matching_events",
            "api::events::bad_parameters_are_400_with_every_problem_named_in_fields",
            "api::events::no_token_or_an_invalid_one_is_401_before_any_input_is_read",
            "api::events::a_read_token_reads_and_so_does_every_greater_scope",
            "api::events::another_tenants_event_is_404_like_a_missing_one_and_never_listed",
            "api::events::walking_all_pages_while_webhooks_keep_arriving_yields_every_earlier_event_exactly_once",
        ],
    ),
    (
        "GET",
        "/v1/events/{id}",
        &[
            "api::events::the_detail_has_headers_body_extracted_fields_jobs_and_every_attempt",
            "api::events::a_body_that_is_not_utf8_is_given_in_base64_and_an_unrouted_event_has_no_jobs",
            "api::events::no_token_or_an_invalid_one_is_401_before_any_input_is_read",
            "api::events::a_read_token_reads_and_so_does_every_greater_scope",
            "api::events::another_tenants_event_is_404_like_a_missing_one_and_never_listed",
            "api::replay::the_lag_runs_from_the_providers_timestamp_through_commit_to_delivery",
            "api::replay::the_lag_of_an_event_not_yet_delivered_leaves_the_steps_ahead_null",
        ],
    ),
    (
        "POST",
        "/v1/keys",
        &[
            "api::keys::an_admin_makes_a_key_whose_token_is_shown_once_and_authenticates",
            "api::keys::a_tenant_admin_makes_keys_of_its_own_tenant_by_default_and_no_other",
            "api::keys::a_bad_key_request_is_400_with_every_problem_in_fields",
            "api::keys::no_token_a_garbage_one_or_a_revoked_key_is_401_for_every_key_operation",
            "api::keys::read_and_write_tokens_are_403_for_every_key_operation",
        ],
    ),
    (
        "GET",
        "/v1/keys",
        &[
            "api::keys::the_list_shows_the_tokens_tenant_and_every_tenant_to_a_root_admin",
            "api::keys::bad_list_parameters_are_400_and_another_tenants_list_is_403",
            "api::keys::no_token_a_garbage_one_or_a_revoked_key_is_401_for_every_key_operation",
            "api::keys::read_and_write_tokens_are_403_for_every_key_operation",
        ],
    ),
    (
        "DELETE",
        "/v1/keys/{id}",
        &[
            "api::keys::revoking_a_key_stops_it_at_once_and_a_second_revoke_is_404",
            "api::keys::a_revoke_of_something_that_is_not_a_key_id_is_400",
            "api::keys::no_token_a_garbage_one_or_a_revoked_key_is_401_for_every_key_operation",
            "api::keys::read_and_write_tokens_are_403_for_every_key_operation",
            "api::keys::another_tenants_key_is_404_like_a_missing_one_and_stays_valid",
        ],
    ),
    // ---- Queues ----
    (
        "GET",
        "/v1/queues",
        &[
            "api::queues::the_list_shows_every_configured_queue_with_its_settings_and_counts_by_state",
            "api::queues::no_token_or_an_invalid_one_is_401_for_every_queue_operation",
            "api::queues::read_write_and_tenant_admin_tokens_are_403_for_every_queue_operation",
        ],
    ),
    (
        "POST",
        "/v1/queues/{name}/pause",
        &[
            "api::queues::a_paused_queue_accepts_webhooks_but_delivers_none_until_resumed",
            "api::queues::a_pause_survives_a_restart",
            "api::queues::no_token_or_an_invalid_one_is_401_for_every_queue_operation",
            "api::queues::read_write_and_tenant_admin_tokens_are_403_for_every_queue_operation",
            "api::queues::an_unknown_queue_is_404_and_is_not_paused",
        ],
    ),
    (
        "POST",
        "/v1/queues/{name}/resume",
        &[
            "api::queues::a_paused_queue_accepts_webhooks_but_delivers_none_until_resumed",
            "api::queues::a_pause_survives_a_restart",
            "api::queues::no_token_or_an_invalid_one_is_401_for_every_queue_operation",
            "api::queues::read_write_and_tenant_admin_tokens_are_403_for_every_queue_operation",
            "api::queues::an_unknown_queue_is_404_and_is_not_paused",
        ],
    ),
    // ---- end Queues ----
    // ---- Dead letters and audit ----
    (
        "GET",
        "/v1/dead",
        &[
            "api::dead::a_hundred_dead_jobs_are_requeued_by_one_filtered_call_succeed_and_the_call_is_audited",
            "api::dead::the_dead_list_pages_newest_first_with_filters_and_counts_per_queue",
            "api::dead::bad_input_is_400_with_every_problem_in_fields",
            "api::dead::no_token_or_an_invalid_one_is_401_for_every_dead_operation",
            "api::dead::a_read_token_is_403_for_the_actions_and_a_write_token_for_the_audit_log",
            "api::dead::another_tenants_dead_jobs_are_404_invisible_and_untouched",
        ],
    ),
    (
        "POST",
        "/v1/dead/retry",
        &[
            "api::dead::a_hundred_dead_jobs_are_requeued_by_one_filtered_call_succeed_and_the_call_is_audited",
            "api::dead::bad_input_is_400_with_every_problem_in_fields",
            "api::dead::no_token_or_an_invalid_one_is_401_for_every_dead_operation",
            "api::dead::a_read_token_is_403_for_the_actions_and_a_write_token_for_the_audit_log",
            "api::dead::another_tenants_dead_jobs_are_404_invisible_and_untouched",
        ],
    ),
    (
        "POST",
        "/v1/dead/purge",
        &[
            "api::dead::a_purge_by_ids_or_by_filter_deletes_dead_jobs_with_their_attempts_and_is_audited",
            "api::dead::bad_input_is_400_with_every_problem_in_fields",
            "api::dead::no_token_or_an_invalid_one_is_401_for_every_dead_operation",
            "api::dead::a_read_token_is_403_for_the_actions_and_a_write_token_for_the_audit_log",
            "api::dead::another_tenants_dead_jobs_are_404_invisible_and_untouched",
        ],
    ),
    (
        "POST",
        "/v1/jobs/{id}/retry",
        &[
            "api::dead::retrying_one_job_requeues_it_and_a_job_that_is_not_dead_is_409",
            "api::dead::bad_input_is_400_with_every_problem_in_fields",
            "api::dead::no_token_or_an_invalid_one_is_401_for_every_dead_operation",
            "api::dead::a_read_token_is_403_for_the_actions_and_a_write_token_for_the_audit_log",
            "api::dead::another_tenants_dead_jobs_are_404_invisible_and_untouched",
        ],
    ),
    (
        "GET",
        "/v1/audit",
        &[
            "api::dead::a_hundred_dead_jobs_are_requeued_by_one_filtered_call_succeed_and_the_call_is_audited",
            "api::dead::a_purge_by_ids_or_by_filter_deletes_dead_jobs_with_their_attempts_and_is_audited",
            "api::dead::bad_input_is_400_with_every_problem_in_fields",
            "api::dead::no_token_or_an_invalid_one_is_401_for_every_dead_operation",
            "api::dead::a_read_token_is_403_for_the_actions_and_a_write_token_for_the_audit_log",
            "api::dead::another_tenants_dead_jobs_are_404_invisible_and_untouched",
        ],
    ),
    // ---- end Dead letters and audit ----
    // ---- Replay ----
    (
        "POST",
        "/v1/events/{id}/replay",
        &[
            "api::replay::a_delivered_event_replayed_is_delivered_again_with_the_same_webhook_id_and_audited",
            "api::replay::new_id_forwards_the_replay_under_a_fresh_webhook_id",
            "api::replay::an_event_no_route_matches_is_409_and_replays_to_a_named_destination",
            "api::replay::a_bad_replay_request_is_400_with_every_problem_in_fields",
            "api::replay::a_replay_needs_a_write_token_of_the_events_tenant",
        ],
    ),
    // ---- end Replay ----
    // ---- Stats and health ----
    (
        "GET",
        "/v1/stats/sources",
        &[
            "api::stats::the_stats_count_exactly_the_webhooks_sent_their_outcomes_errors_and_lags",
            "api::stats::the_stats_outlive_retention_pruning_the_events",
            "api::stats::a_tenant_sees_only_its_own_sources",
            "api::stats::queue_stats_need_an_admin_of_every_tenant",
            "api::stats::bad_parameters_are_400_with_every_problem_in_fields",
            "api::stats::no_token_or_an_invalid_one_is_401_for_every_stats_operation",
        ],
    ),
    (
        "GET",
        "/v1/stats/queues",
        &[
            "api::stats::the_stats_count_exactly_the_webhooks_sent_their_outcomes_errors_and_lags",
            "api::stats::queue_stats_need_an_admin_of_every_tenant",
            "api::stats::bad_parameters_are_400_with_every_problem_in_fields",
            "api::stats::no_token_or_an_invalid_one_is_401_for_every_stats_operation",
        ],
    ),
    (
        "GET",
        "/v1/health",
        &[
            "api::stats::health_tells_disconnected_rejecting_and_healthy_sources_apart",
            "api::stats::a_tenant_sees_only_its_own_sources",
            "api::stats::queue_stats_need_an_admin_of_every_tenant",
            "api::stats::bad_parameters_are_400_with_every_problem_in_fields",
            "api::stats::no_token_or_an_invalid_one_is_401_for_every_stats_operation",
        ],
    ),
    // ---- end Stats and health ----
    // ---- Configuration objects ----
    (
        "GET",
        "/v1/config",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "GET",
        "/v1/config/sources",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
            "api::config::another_tenants_source_is_404_like_a_missing_one_and_a_source_keeps_its_tenant",
        ],
    ),
    (
        "GET",
        "/v1/config/sources/{name}",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
            "api::config::another_tenants_source_is_404_like_a_missing_one_and_a_source_keeps_its_tenant",
        ],
    ),
    (
        "PUT",
        "/v1/config/sources/{name}",
        &[
            "api::config::api_edits_are_in_force_for_the_next_webhook_and_job_and_survive_a_restart",
            "api::config::masked_secrets_sent_back_keep_their_secrets_and_an_unknown_mask_is_400",
            "api::config::bad_bodies_are_400_with_a_json_pointer_to_every_problem",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
            "api::config::another_tenants_source_is_404_like_a_missing_one_and_a_source_keeps_its_tenant",
        ],
    ),
    (
        "DELETE",
        "/v1/config/sources/{name}",
        &[
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
            "api::config::another_tenants_source_is_404_like_a_missing_one_and_a_source_keeps_its_tenant",
        ],
    ),
    (
        "GET",
        "/v1/config/routes",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "GET",
        "/v1/config/routes/{name}",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "PUT",
        "/v1/config/routes/{name}",
        &[
            "api::config::api_edits_are_in_force_for_the_next_webhook_and_job_and_survive_a_restart",
            "api::config::stored_objects_that_no_longer_fit_the_file_stop_the_start_naming_the_object",
            "api::config::bad_bodies_are_400_with_a_json_pointer_to_every_problem",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "DELETE",
        "/v1/config/routes/{name}",
        &[
            "api::config::a_queue_made_through_the_api_gets_a_working_pool_and_a_deleted_one_goes",
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "GET",
        "/v1/config/queues",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "GET",
        "/v1/config/queues/{name}",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "PUT",
        "/v1/config/queues/{name}",
        &[
            "api::config::a_queue_made_through_the_api_gets_a_working_pool_and_a_deleted_one_goes",
            "api::config::bad_bodies_are_400_with_a_json_pointer_to_every_problem",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "DELETE",
        "/v1/config/queues/{name}",
        &[
            "api::config::a_queue_made_through_the_api_gets_a_working_pool_and_a_deleted_one_goes",
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "GET",
        "/v1/config/destinations",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "GET",
        "/v1/config/destinations/{name}",
        &[
            "api::config::the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets",
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "PUT",
        "/v1/config/destinations/{name}",
        &[
            "api::config::masked_secrets_sent_back_keep_their_secrets_and_an_unknown_mask_is_400",
            "api::config::config_export_prints_the_effective_configuration_with_secrets_that_config_check_accepts",
            "api::config::bad_bodies_are_400_with_a_json_pointer_to_every_problem",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    (
        "DELETE",
        "/v1/config/destinations/{name}",
        &[
            "api::config::deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404",
            "api::config::no_token_or_an_invalid_one_is_401_for_every_config_operation",
            "api::config::tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation",
        ],
    ),
    // ---- end Configuration objects ----
];

/// The document as a client without a token receives it.
async fn document(gw: &TestGateway) -> Value {
    let response = reqwest::Client::builder()
        .build()
        .expect("a test HTTP client")
        .get(gw.url("/v1/openapi.json"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("the document is JSON")
}

/// A gateway with no sources: the document does not depend on configuration.
async fn gateway() -> TestGateway {
    TestGateway::start("").await
}

/// Every (METHOD, path, operation) of the document.
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("the document has no paths: {document}"));
    let mut found = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
            ) {
                found.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_needs_no_token_and_is_openapi_3_1_with_bearer_auth() {
    let gw = gateway().await;
    let document = document(&gw).await;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        document["openapi"]
    );
    assert!(document["info"]["title"].is_string());
    assert!(document["info"]["version"].is_string());
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("bearer"),
        "{}",
        document["components"]
    );
    assert!(
        document["security"]
            .as_array()
            .is_some_and(|all| all.iter().any(|one| one.get("bearer").is_some())),
        "every operation needs the bearer token: {}",
        document["security"]
    );
    assert!(
        document["paths"].get("/v1/openapi.json").is_none(),
        "the document does not describe itself as needing a token"
    );

    // Even a token that is not valid does not stand in the way.
    let response = reqwest::Client::builder()
        .build()
        .unwrap()
        .get(gw.url("/v1/openapi.json"))
        .bearer_auth("hkd_not_a_token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // And it is the same for anyone.
    let admin = api_token(gw.store(), "*", "admin").await;
    let with_admin: Value = reqwest::Client::builder()
        .build()
        .unwrap()
        .get(gw.url("/v1/openapi.json"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(with_admin, document);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_documents_its_errors_with_the_shared_error_body() {
    let document = document(&gateway().await).await;
    let mut problems = Vec::new();
    for (method, path, operation) in operations(&document) {
        let op = format!("{method} {path}");
        let responses = operation["responses"].as_object().expect("responses");
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let in_ = |place: &str| parameters.iter().any(|p| p["in"] == place);
        let has_input = in_("query") || in_("header") || operation.get("requestBody").is_some();

        let mut required = vec!["401"];
        if has_input {
            required.push("400");
        }
        if in_("path") {
            required.push("404");
        }
        for status in required {
            if !responses.contains_key(status) {
                problems.push(format!("{op}: no {status} documented"));
            }
        }
        if !responses.keys().any(|status| status.starts_with('2')) {
            problems.push(format!("{op}: no success documented"));
        }
        for (status, response) in responses {
            if status.starts_with('2') {
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            if schema != "#/components/schemas/ErrorBody" {
                problems.push(format!("{op}: {status} is not documented as ErrorBody"));
            }
        }
        let template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        if template != declared {
            problems.push(format!(
                "{op}: path parameters {declared:?} do not match the template {template:?}"
            ));
        }
        if operation["tags"].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("{op}: no tag"));
        }
        if operation["operationId"].as_str().is_none() {
            problems.push(format!("{op}: no operationId"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_in_the_document_resolves() {
    fn walk<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    refs.push(target);
                }
                map.values().for_each(|v| walk(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let document = document(&gateway().await).await;
    let mut refs = Vec::new();
    walk(&document, &mut refs);
    assert!(!refs.is_empty());
    let dangling: BTreeSet<&str> = refs
        .into_iter()
        .filter(|target| {
            target
                .strip_prefix('#')
                .is_none_or(|pointer| document.pointer(pointer).is_none())
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_in_the_document_has_a_test() {
    let document = document(&gateway().await).await;
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let listed: BTreeSet<(String, String)> = COVERAGE
        .iter()
        .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let untested: Vec<_> = documented.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&documented).collect();
    assert!(
        untested.is_empty() && gone.is_empty(),
        "operations without a row in COVERAGE: {untested:?}\n\
         rows for operations the document no longer has: {gone:?}"
    );

    let mut problems = Vec::new();
    for (method, path, tests) in COVERAGE {
        if tests.is_empty() {
            problems.push(format!("{method} {path}: no test listed"));
        }
        for test in *tests {
            if let Err(problem) = test_exists(test) {
                problems.push(format!("{method} {path}: {test}: {problem}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether `name` (`api::events::some_test`) is a test function of this binary: its
/// module file exists and defines `fn some_test` under a test attribute.
fn test_exists(name: &str) -> Result<(), String> {
    let (module, function) = name.rsplit_once("::").ok_or("not a path")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let base = root.join(module.replace("::", "/"));
    let file = [base.with_extension("rs"), base.join("mod.rs")]
        .into_iter()
        .find(|file| file.is_file())
        .ok_or_else(|| format!("no module file {}.rs", base.display()))?;
    let text = std::fs::read_to_string(&file).map_err(|error| error.to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    let signature = format!("fn {function}(");
    let at = lines
        .iter()
        .position(|line| {
            line.trim_start()
                .trim_start_matches("async ")
                .starts_with(&signature)
        })
        .ok_or_else(|| format!("no `{signature}` in {}", file.display()))?;
    let attributes = lines[..at]
        .iter()
        .rev()
        .map(|line| line.trim_start())
        .take_while(|line| line.starts_with("#[") || line.starts_with("///"))
        .any(|line| line.starts_with("#[") && line.contains("test"));
    if attributes {
        Ok(())
    } else {
        Err("not marked as a test".to_owned())
    }
}
