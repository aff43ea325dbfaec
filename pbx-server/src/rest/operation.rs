//! The seed's operation API, `/rest/operation/{serviceName}/{key}` (GET reads, POST writes,
//! DELETE removes the operational setting), with its request and response bodies and odd
//! encodings (seed §6.1.6; spec/seed-api-addons.md §5):
//!
//! | service | GET `operationData` | POST `operationData` | ours |
//! |---|---|---|---|
//! | `DND` | `true`/`false` | `"true"` (a boolean in a string) | DND |
//! | `CFIM` | `false` or `"102"` | `"\"102\""` (digits in escaped quotes) | unconditional forward |
//! | `CFBS` | same | same | forward on busy |
//! | `CFNA` | same | same | forward on no answer |
//! | `CFUN` | same | same | forward on unavailable |
//! | `FORKMOBILE` | `true`/`false` | `"true"` | fork to mobile |
//! | `BUSYLEVEL` | `false` or an integer (0 = unlimited) | `1` or `"1"` | the extension's busy level |
//! | `EXTEN_HUNTING` | `[{"priority":1,"accounts":[{"id":1}]}]` | that array as a JSON string | ring order (stored) |
//!
//! Services go through the SIP core exactly as the CTI's commands (`Control::SetService`),
//! so a change shows in the CTI stream and in call handling at once; BUSYLEVEL is stored
//! and the core's directory reloaded.

use super::access::{Area, Level};
use super::session::ApiUser;
use super::{ApiError, ApiResult, Body, RestState};
use crate::control::ServiceChange;
use crate::store::{Extension, Operation};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared_protocol::{ForwardKind, Services};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A service of the operation API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    BusyLevel,
    Forward(ForwardKind),
    Dnd,
    ForkMobile,
    ExtenHunting,
}

impl Service {
    const ALL: [Service; 8] = [
        Service::BusyLevel,
        Service::Forward(ForwardKind::Busy),
        Service::Forward(ForwardKind::Unconditional),
        Service::Forward(ForwardKind::NoAnswer),
        Service::Forward(ForwardKind::Unavailable),
        Service::Dnd,
        Service::ExtenHunting,
        Service::ForkMobile,
    ];

    fn name(self) -> &'static str {
        match self {
            Service::BusyLevel => "BUSYLEVEL",
            Service::Forward(ForwardKind::Busy) => "CFBS",
            Service::Forward(ForwardKind::Unconditional) => "CFIM",
            Service::Forward(ForwardKind::NoAnswer) => "CFNA",
            Service::Forward(ForwardKind::Unavailable) => "CFUN",
            Service::Dnd => "DND",
            Service::ForkMobile => "FORKMOBILE",
            Service::ExtenHunting => "EXTEN_HUNTING",
        }
    }

    /// The seed's names; lower case too (the older `/rest/operation/service/dnd/...` form).
    fn parse(s: &str) -> ApiResult<Service> {
        let upper = s.to_ascii_uppercase();
        Service::ALL
            .into_iter()
            .find(|x| x.name() == upper)
            .ok_or_else(|| match upper.as_str() {
                "CLIP" | "HUNTING" => {
                    ApiError::NotFound(format!("service {upper}: reserved or deprecated"))
                }
                _ => ApiError::NotFound(format!("no service {s:?}")),
            })
    }
}

/// The seed's response body for GET and POST.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationView {
    /// The tenant's UUID.
    tenant_uuid: String,
    /// `DND`, `CFIM`, ...
    service_name: String,
    /// The extension number.
    key: String,
    /// The value: see the table in docs/rest-api.md.
    #[schema(value_type = Object)]
    operation_data: Value,
}

/// The seed's request body for POST.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationInput {
    /// The value, in the seed's encoding for the service.
    #[schema(value_type = Object)]
    operation_data: Value,
}

/// One priority of EXTEN_HUNTING: accounts that ring together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Priority {
    priority: i64,
    accounts: Vec<AccountId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountId {
    id: i64,
}

/// Checks the caller may act on `key` (their own extension, or the level on
/// SERVICE_OPERATION), then finds the extension in the caller's tenant.
async fn target(s: &RestState, user: &ApiUser, key: &str, level: Level) -> ApiResult<Extension> {
    if !user.owns(key) {
        user.require(Area::ServiceOperation, level)?;
    }
    s.store()
        .extension_by_number(Some(user.tenant_id()), key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("extension {key}")))
}

/// The services of an extension now: from the SIP core when it runs the tenant (the store's
/// copy may be a moment behind), else from the store.
async fn services(s: &RestState, user: &ApiUser, ext: &Extension) -> ApiResult<Services> {
    if s.serves(&user.domain) {
        let state = s.core_state().await?;
        return Ok(state
            .services
            .into_iter()
            .find(|(t, n, _)| *t == user.domain && *n == ext.number)
            .map(|(_, _, sv)| sv)
            .unwrap_or_default());
    }
    Ok(s.store()
        .load_services()
        .await?
        .into_iter()
        .find(|x| x.extension_id == ext.id)
        .map(|x| x.services)
        .unwrap_or_default())
}

/// Applies a service change: through the core (as a CTI command would), or to the store for a
/// tenant the core does not run.
async fn change(s: &RestState, user: &ApiUser, ext: &Extension, c: ServiceChange) -> ApiResult<()> {
    if s.serves(&user.domain) {
        s.set_service(&user.domain, &ext.number, c).await?;
        return Ok(());
    }
    crate::calls::check_service_change(&ext.number, &c)?;
    let mut sv = services(s, user, ext).await?;
    match c {
        ServiceChange::Dnd(on) => sv.dnd = on,
        ServiceChange::Fork2Mobile(on) => sv.fork2mobile = on,
        ServiceChange::Forward(kind, target) => {
            let f = &mut sv.forwards;
            *match kind {
                ForwardKind::Unconditional => &mut f.unconditional,
                ForwardKind::Busy => &mut f.busy,
                ForwardKind::NoAnswer => &mut f.no_answer,
                ForwardKind::Unavailable => &mut f.unavailable,
            } = target;
        }
    }
    s.store().set_services(ext.id, &sv).await?;
    Ok(())
}

fn forward(sv: &Services, kind: ForwardKind) -> Option<&String> {
    let f = &sv.forwards;
    match kind {
        ForwardKind::Unconditional => f.unconditional.as_ref(),
        ForwardKind::Busy => f.busy.as_ref(),
        ForwardKind::NoAnswer => f.no_answer.as_ref(),
        ForwardKind::Unavailable => f.unavailable.as_ref(),
    }
}

/// The default hunting: one priority with every account of the extension.
async fn default_hunting(
    s: &RestState,
    user: &ApiUser,
    ext: &Extension,
) -> ApiResult<Vec<Priority>> {
    let accounts = account_ids(s, user, ext).await?;
    Ok(vec![Priority {
        priority: 1,
        accounts: accounts.into_iter().map(|id| AccountId { id }).collect(),
    }])
}

async fn account_ids(s: &RestState, user: &ApiUser, ext: &Extension) -> ApiResult<Vec<i64>> {
    let listing = s
        .store()
        .extension_listing(user.tenant_id(), Some(&ext.number))
        .await?;
    Ok(listing
        .into_iter()
        .flat_map(|l| l.accounts.into_iter().map(|(id, _, _)| id))
        .collect())
}

/// The GET value of one service.
async fn read(
    s: &RestState,
    user: &ApiUser,
    ext: &Extension,
    service: Service,
) -> ApiResult<Value> {
    Ok(match service {
        Service::Dnd => json!(services(s, user, ext).await?.dnd),
        Service::ForkMobile => json!(services(s, user, ext).await?.fork2mobile),
        Service::Forward(kind) => match forward(&services(s, user, ext).await?, kind) {
            Some(t) => json!(t),
            None => json!(false),
        },
        Service::BusyLevel => match s.store().operation(ext.id).await?.busy_level {
            Some(n) => json!(n),
            None => json!(false),
        },
        Service::ExtenHunting => {
            let stored = s.store().operation(ext.id).await?.hunting;
            match stored.and_then(|h| serde_json::from_str::<Vec<Priority>>(&h).ok()) {
                Some(p) => json!(p),
                None => json!(default_hunting(s, user, ext).await?),
            }
        }
    })
}

/// `"true"`/`"false"` as the seed sends them, or a JSON boolean.
fn parse_bool(v: &Value) -> ApiResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(ApiError::BadRequest(
            "operationData: \"true\" or \"false\"".into(),
        )),
    }
}

/// A forward target: digits in escaped quotes (`"\"0612\""`, so leading zeros survive), or
/// the bare digits string.
fn parse_target(v: &Value) -> ApiResult<String> {
    let bad = || {
        ApiError::BadRequest(
            "operationData: a number in escaped double quotes, e.g. \"\\\"102\\\"\"".into(),
        )
    };
    let Value::String(s) = v else {
        return Err(bad());
    };
    let inner = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    if crate::calls::valid_number(inner) {
        Ok(inner.to_string())
    } else {
        Err(bad())
    }
}

/// An integer ≥ 0, or a string holding one (`"uno"` is refused).
fn parse_level(v: &Value) -> ApiResult<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.filter(|n| (0..=1000).contains(n)).ok_or_else(|| {
        ApiError::BadRequest("operationData: an integer from 0 (unlimited) to 1000".into())
    })
}

/// The hunting priorities, as a JSON string (the seed's form) or an array; every account
/// must be one of the extension's, at most once, and priorities distinct and positive.
fn parse_hunting(v: &Value, accounts: &[i64]) -> ApiResult<Vec<Priority>> {
    let bad = |why: &str| ApiError::BadRequest(format!("operationData: {why}"));
    let parsed: Vec<Priority> = match v {
        Value::String(s) => serde_json::from_str(s),
        other => serde_json::from_value(other.clone()),
    }
    .map_err(|e| {
        bad(&format!(
            "[{{\"priority\": 1, \"accounts\": [{{\"id\": 1}}]}}] ({e})"
        ))
    })?;
    let mut seen_prio = Vec::new();
    let mut seen_acc = Vec::new();
    for p in &parsed {
        if p.priority < 1 || seen_prio.contains(&p.priority) {
            return Err(bad("priorities must be distinct and at least 1"));
        }
        seen_prio.push(p.priority);
        for a in &p.accounts {
            if !accounts.contains(&a.id) {
                return Err(bad(&format!(
                    "account {} is not one of the extension's",
                    a.id
                )));
            }
            if seen_acc.contains(&a.id) {
                return Err(bad(&format!("account {} appears twice", a.id)));
            }
            seen_acc.push(a.id);
        }
    }
    if parsed.is_empty() {
        return Err(bad("at least one priority"));
    }
    Ok(parsed)
}

fn view(uuid: String, service: Service, key: String, data: Value) -> Json<OperationView> {
    Json(OperationView {
        tenant_uuid: uuid,
        service_name: service.name().to_string(),
        key,
        operation_data: data,
    })
}

/// The operational value of a service of extension `key` (read level on SERVICE_OPERATION,
/// or one's own extension).
#[utoipa::path(get, path = "/rest/operation/{serviceName}/{key}", tag = "operation",
    params(("serviceName" = String, Path, description = "BUSYLEVEL, CFBS, CFIM, CFNA, CFUN, DND, EXTEN_HUNTING, FORKMOBILE"),
        ("key" = String, Path, description = "extension number")),
    responses((status = 200, body = OperationView), (status = 403), (status = 404)))]
pub(super) async fn get(
    user: ApiUser,
    State(s): State<RestState>,
    Path((service, key)): Path<(String, String)>,
) -> ApiResult<Json<OperationView>> {
    let service = Service::parse(&service)?;
    let ext = target(&s, &user, &key, Level::Read).await?;
    let data = read(&s, &user, &ext, service).await?;
    Ok(view(
        s.store().tenant_uuid(user.tenant_id()).await?,
        service,
        key,
        data,
    ))
}

/// Sets a service of extension `key` (write level on SERVICE_OPERATION, or one's own
/// extension); the answer echoes `operationData` as sent.
#[utoipa::path(post, path = "/rest/operation/{serviceName}/{key}", tag = "operation",
    params(("serviceName" = String, Path), ("key" = String, Path)),
    request_body = OperationInput,
    responses((status = 200, body = OperationView), (status = 400), (status = 403), (status = 404)))]
pub(super) async fn post(
    user: ApiUser,
    State(s): State<RestState>,
    Path((service, key)): Path<(String, String)>,
    Body(input): Body<OperationInput>,
) -> ApiResult<Json<OperationView>> {
    let service = Service::parse(&service)?;
    let ext = target(&s, &user, &key, Level::Write).await?;
    let v = &input.operation_data;
    match service {
        Service::Dnd => change(&s, &user, &ext, ServiceChange::Dnd(parse_bool(v)?)).await?,
        Service::ForkMobile => {
            change(&s, &user, &ext, ServiceChange::Fork2Mobile(parse_bool(v)?)).await?
        }
        Service::Forward(kind) => {
            let c = ServiceChange::Forward(kind, Some(parse_target(v)?));
            change(&s, &user, &ext, c).await?
        }
        Service::BusyLevel => {
            let mut op = s.store().operation(ext.id).await?;
            op.busy_level = Some(parse_level(v)?);
            s.store().set_operation(ext.id, &op).await?;
            s.reload(&user.domain).await?;
        }
        Service::ExtenHunting => {
            let accounts = account_ids(&s, &user, &ext).await?;
            let hunting = parse_hunting(v, &accounts)?;
            let mut op = s.store().operation(ext.id).await?;
            op.hunting = Some(json!(hunting).to_string());
            s.store().set_operation(ext.id, &op).await?;
        }
    }
    tracing::info!(user = %user.user.username, domain = %user.domain, service = service.name(), key, "rest: operation set");
    let uuid = s.store().tenant_uuid(user.tenant_id()).await?;
    Ok(view(uuid, service, key, input.operation_data))
}

/// Removes the operational setting of a service of extension `key` (DND and FORKMOBILE off,
/// the forward cleared, BUSYLEVEL back to the configured level). No body. EXTEN_HUNTING has
/// no DELETE in the seed: post one priority with every account instead.
#[utoipa::path(delete, path = "/rest/operation/{serviceName}/{key}", tag = "operation",
    params(("serviceName" = String, Path), ("key" = String, Path)),
    responses((status = 200, description = "no body"), (status = 403), (status = 404), (status = 405)))]
pub(super) async fn delete(
    user: ApiUser,
    State(s): State<RestState>,
    Path((service, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let service = Service::parse(&service)?;
    let ext = target(&s, &user, &key, Level::Write).await?;
    match service {
        Service::Dnd => change(&s, &user, &ext, ServiceChange::Dnd(false)).await?,
        Service::ForkMobile => change(&s, &user, &ext, ServiceChange::Fork2Mobile(false)).await?,
        Service::Forward(kind) => {
            change(&s, &user, &ext, ServiceChange::Forward(kind, None)).await?
        }
        Service::BusyLevel => {
            let op = Operation {
                busy_level: None,
                ..s.store().operation(ext.id).await?
            };
            s.store().set_operation(ext.id, &op).await?;
            s.reload(&user.domain).await?;
        }
        Service::ExtenHunting => return Err(ApiError::MethodNotAllowed),
    }
    Ok(StatusCode::OK)
}

/// Every service of an extension at once (`GET /rest/extension/{number}/services`): service
/// name to its GET `operationData`.
#[utoipa::path(get, path = "/rest/extension/{number}/services", tag = "operation",
    params(("number" = String, Path)),
    responses((status = 200, body = BTreeMap<String, Object>), (status = 403), (status = 404)))]
pub(super) async fn services_of(
    user: ApiUser,
    State(s): State<RestState>,
    Path(number): Path<String>,
) -> ApiResult<Json<BTreeMap<&'static str, Value>>> {
    let ext = target(&s, &user, &number, Level::Read).await?;
    let mut out = BTreeMap::new();
    for service in Service::ALL {
        out.insert(service.name(), read(&s, &user, &ext, service).await?);
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_codes_name_the_right_forwards() {
        let kind = |s| match Service::parse(s) {
            Ok(Service::Forward(k)) => Some(k),
            _ => None,
        };
        assert_eq!(kind("CFIM"), Some(ForwardKind::Unconditional));
        assert_eq!(kind("CFBS"), Some(ForwardKind::Busy));
        assert_eq!(kind("CFNA"), Some(ForwardKind::NoAnswer));
        assert_eq!(kind("CFUN"), Some(ForwardKind::Unavailable));
        assert_eq!(Service::parse("dnd").ok(), Some(Service::Dnd));
        assert!(Service::parse("CLIP").is_err());
        assert!(Service::parse("HUNTING").is_err());
    }

    #[test]
    fn the_seed_encodings() {
        assert!(parse_bool(&json!("true")).unwrap());
        assert!(!parse_bool(&json!(false)).unwrap());
        assert!(parse_bool(&json!("yes")).is_err());
        assert_eq!(parse_target(&json!("\"0612\"")).unwrap(), "0612");
        assert_eq!(parse_target(&json!("102")).unwrap(), "102");
        assert!(
            parse_target(&json!(102)).is_err(),
            "an integer loses leading zeros"
        );
        assert!(parse_target(&json!("\"10 2\"")).is_err());
        assert_eq!(parse_level(&json!(1)).unwrap(), 1);
        assert_eq!(parse_level(&json!("1")).unwrap(), 1);
        assert!(parse_level(&json!("uno")).is_err());
        assert!(parse_level(&json!(-1)).is_err());
    }

    #[test]
    fn hunting_as_the_seed_posts_it() {
        let body = json!(
            "[{\"priority\": 1, \"accounts\": [{\"id\": 1}]}, {\"priority\": 2, \"accounts\": [{\"id\": 6}, {\"id\": 7}]}]"
        );
        let p = parse_hunting(&body, &[1, 6, 7]).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[1].accounts,
            vec![AccountId { id: 6 }, AccountId { id: 7 }]
        );
        assert!(
            parse_hunting(&body, &[1, 6]).is_err(),
            "7 is not the extension's"
        );
        let twice =
            json!([{"priority": 1, "accounts": [{"id": 1}]}, {"priority": 1, "accounts": []}]);
        assert!(parse_hunting(&twice, &[1]).is_err());
        assert!(parse_hunting(&json!("[]"), &[1]).is_err());
        assert!(parse_hunting(&json!("not json"), &[1]).is_err());
    }
}
