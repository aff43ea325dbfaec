//! The OpenAPI description of the REST API, generated from the handlers' annotations
//! (utoipa), served at `/api/doc.json` (as the seed's) with a small browsable page at
//! `/api/doc` that reads it (no outside scripts).

use super::{
    accounts, calls, cdr, extensions, me, operation, pickup, queue_ops, queues, ring_groups, roles,
    tenants, users,
};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Centralino REST API",
        description = "Compatible with the seed's /rest/ API. Every call except the salt needs the \
            single-use `X-authenticate` header (docs/rest-api.md): `RestApiUsernameToken Username=\"..\", \
            Domain=\"..\", Digest=\"..\", Nonce=\"..\", Created=\"..\"`. Errors are JSON \
            `{\"error\": code, \"message\": text}`.",
        license(name = "AGPL-3.0-or-later"),
    ),
    paths(
        salt_doc,
        me::change_password,
        extensions::list, extensions::one, extensions::create, extensions::update, extensions::delete,
        accounts::list, accounts::one, accounts::create, accounts::update, accounts::delete,
        users::list, users::one, users::create, users::update, users::delete,
        roles::list, roles::one, roles::put, roles::delete,
        tenants::list, tenants::create,
        operation::get, operation::post, operation::delete, operation::services_of,
        queue_ops::list, queue_ops::one, queue_ops::pause, queue_ops::dynamic_member,
        queues::list, queues::one, queues::create, queues::update, queues::delete,
        queues::put_member, queues::delete_member,
        ring_groups::list, ring_groups::one, ring_groups::create, ring_groups::update,
        ring_groups::delete, ring_groups::put_member, ring_groups::delete_member,
        pickup::get, pickup::put, pickup::delete, pickup::list,
        cdr::get, cdr::post,
        calls::c2c, calls::list, calls::hangup, calls::hold, calls::resume, calls::transfer,
        calls::redirect, calls::redirect_v2, calls::redirect_v2_from,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Auth),
    security(("X-authenticate" = [])),
)]
struct ApiDoc;

/// Every error's body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorBody {
    /// `unauthorized`, `forbidden`, `not_found`, `bad_request`, `conflict`, ...
    error: String,
    message: String,
}

/// The salt of a tenant, anonymous (documented here; served by `super::salt`).
#[utoipa::path(get, path = "/rest/salt/{domain}", tag = "auth", security(()),
    params(("domain" = String, Path, description = "tenant domain, `default` on a single-tenant PBX")),
    responses((status = 200, description = "the salt: text, or {\"salt\": ..} for Accept: application/json", content_type = "text/plain", body = String),
        (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn salt_doc() {}

struct Auth;

impl Modify for Auth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "X-authenticate",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-authenticate",
                "RestApiUsernameToken, new for every request (docs/rest-api.md)",
            ))),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/api/doc.json` and `/api/doc`, to be merged into a router of any state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let doc = document();
    Router::new()
        .route("/api/doc.json", get(move || async move { Json(doc) }))
        .route("/api/doc", get(|| async { Html(PAGE).into_response() }))
}

/// A page listing the operations of `/api/doc.json` with their descriptions.
const PAGE: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Centralino REST API</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}code{background:#eee;padding:0 .2em}
h2{margin-top:1.5em}.op{margin:.5em 0}.m{display:inline-block;width:4.5em;font-weight:bold}</style>
</head><body><h1>Centralino REST API</h1>
<p>The machine-readable description: <a href="/api/doc.json">/api/doc.json</a> (OpenAPI 3).</p>
<div id="ops">Loading…</div>
<script>
fetch('/api/doc.json').then(r => r.json()).then(doc => {
  const out = document.getElementById('ops'); out.textContent = '';
  const p = document.createElement('p'); p.textContent = doc.info.description; out.appendChild(p);
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ['other'])[0];
      (byTag[tag] = byTag[tag] || []).push([method, path, op]);
    }
  }
  for (const [tag, ops] of Object.entries(byTag)) {
    const h = document.createElement('h2'); h.textContent = tag; out.appendChild(h);
    for (const [method, path, op] of ops) {
      const d = document.createElement('div'); d.className = 'op';
      const m = document.createElement('span'); m.className = 'm'; m.textContent = method.toUpperCase();
      const c = document.createElement('code'); c.textContent = path;
      const t = document.createElement('div'); t.textContent = op.description || op.summary || '';
      d.append(m, c, t); out.appendChild(d);
    }
  }
});
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn every_route_is_described_and_authenticated() {
        let doc = serde_json::to_value(document()).unwrap_or_default();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for p in [
            "/rest/salt/{domain}",
            "/rest/extension",
            "/rest/extension/{number}",
            "/rest/account/{id}",
            "/rest/user/{username}",
            "/rest/role/{name}",
            "/rest/tenant",
            "/rest/operation/{serviceName}/{key}",
            "/rest/cdr",
            "/rest/phoneServices/c2c/{dest}/{src}",
            "/rest/call/{id}/transfer",
            "/rest/queue/{number}/member/{extension}",
            "/rest/ringGroup/{number}/member/{extension}",
            "/rest/extension/{number}/pickupGroups",
            "/rest/pickupGroup",
        ] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        assert_eq!(doc["security"][0]["X-authenticate"], serde_json::json!([]));
        assert_eq!(
            doc["components"]["securitySchemes"]["X-authenticate"]["in"],
            "header"
        );
    }
}
