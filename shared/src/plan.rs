//! The reconcile plan (SPEC §4 "Push", steps 3–4): compare the desired deployments with what
//! LiteLLM holds (one `GET /model/info`) and list the operations that make them agree, each
//! with its reason. Only entries litellm-updater owns are ever touched.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::desired::{
    Deployment, DeploymentKey, DesiredState, KEY_FINGERPRINT, MANAGED_BY, MANAGED_BY_INSTALLATION, PARAM_KEYS,
};
use crate::{routing, tags};

/// `model_info.created_by` of deployments made by the Python litellm-updater.
pub const PYTHON_CREATED_BY: &str = "updater";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    DeleteDuplicate,
    Delete,
    Update,
    /// Delete and create again with the same id: the only way to drop a field LiteLLM holds,
    /// since its PATCH ignores `null` for all but prices.
    Replace,
    Create,
}

/// One field an update changes. Secrets are never shown: `api_key` appears as `"(changed)"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub action: Action,
    pub litellm_id: String,
    pub model_name: String,
    pub provider: Option<String>,
    #[serde(skip)]
    pub provider_id: Option<i64>,
    #[serde(skip)]
    pub model_row_id: Option<i64>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The request body (create: the whole deployment; update: the partial patch), without the
    /// API key, which is added when the request is sent.
    #[serde(skip)]
    pub body: Value,
    #[serde(skip)]
    pub api_key: Option<DeploymentKey>,
    /// [`body_digest`] of the request body, kept when the body is dropped: what tells an apply
    /// that the create it would send is the one the plan showed (a create lists no changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl Operation {
    /// Keeps the body's digest and drops the body and the key (what a stored plan holds).
    pub fn spend_body(&mut self) {
        self.digest = Some(body_digest(&self.body));
        self.body = Value::Null;
        self.api_key = None;
    }

    /// What makes two operations the same write: kind, entry, name, every changed field (from
    /// and to) and the request body. The reason and provider are words about it, not part of it.
    fn identity(&self) -> Identity {
        let changes = serde_json::to_string(&self.changes).unwrap_or_default();
        let digest = self.digest.clone().or_else(|| (!self.body.is_null()).then(|| body_digest(&self.body)));
        (self.action, self.litellm_id.clone(), self.model_name.clone(), changes, digest)
    }
}

type Identity = (Action, String, String, String, Option<String>);

/// Operations by what they write, each as often as it occurs: what an apply may send.
#[derive(Debug, Clone, Default)]
pub struct OperationSet(HashMap<Identity, usize>);

impl OperationSet {
    pub fn of(operations: &[Operation]) -> Self {
        let mut set = Self::default();
        for op in operations {
            *set.0.entry(op.identity()).or_default() += 1;
        }
        set
    }

    /// Takes one operation writing what `op` writes out of the set; `false` if none is left.
    pub fn take(&mut self, op: &Operation) -> bool {
        match self.0.get_mut(&op.identity()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The operations not taken.
    pub fn remaining(&self) -> usize {
        self.0.values().sum()
    }
}

/// A short digest of a request body, the same whatever order its keys were built in. Bodies
/// never hold an API key (only its fingerprint), so neither does the digest.
pub fn body_digest(body: &Value) -> String {
    use sha2::{Digest, Sha256};
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for key in keys {
                    out.push_str(&Value::from(key.as_str()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                items.iter().for_each(|item| {
                    canonical(item, out);
                    out.push(',');
                });
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(body, &mut text);
    Sha256::digest(text.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// How many operations one list has that the other has not (each side counted, a repeated
/// operation as often as it is repeated): 0 when `stored` and `fresh` are the same writes.
pub fn differing(stored: &[Operation], fresh: &[Operation]) -> usize {
    let mut set = OperationSet::of(stored);
    let extra = fresh.iter().filter(|op| !set.take(op)).count();
    extra + set.remaining()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub operations: Vec<Operation>,
    /// Deployment ids to store on models before applying: new ones, and entries adopted from
    /// the Python tool or found by key.
    #[serde(skip)]
    pub ids_to_store: Vec<IdToStore>,
    /// The same for routing-group targets (stored on `route_targets`).
    #[serde(skip)]
    pub route_ids_to_store: Vec<RouteIdToStore>,
    pub unchanged: usize,
    pub adopted: usize,
    /// Entries of LiteLLM's config file (`db_model: false`): never touched.
    pub config_entries: usize,
    /// Database entries someone else owns: never touched.
    pub foreign_entries: usize,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.operations.iter().filter(|op| op.action == action).count()
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    pub fn sort(&mut self) {
        sort_operations(&mut self.operations);
    }

    /// Only the operations within `scope` (a per-provider or per-model push).
    pub fn retain(&mut self, scope: Scope) {
        self.operations.retain(|op| scope.admits(op.provider_id, op.model_row_id));
        self.ids_to_store.retain(|id| scope.admits(Some(id.provider_id), Some(id.model_row_id)));
        // A group deployment belongs to its target, never to a model row.
        self.route_ids_to_store.retain(|id| scope.admits(Some(id.provider_id), None));
    }

    /// Records that the deployment `of` is (or will be) LiteLLM's entry `litellm_id`.
    fn store_id(&mut self, of: &DeploymentRef, litellm_id: &str) {
        let litellm_id = litellm_id.to_owned();
        match of.route_target_id {
            Some(route_target_id) => self.route_ids_to_store.push(RouteIdToStore {
                provider_id: of.provider_id,
                route_target_id,
                litellm_id,
            }),
            None => self.ids_to_store.push(IdToStore {
                provider_id: of.provider_id,
                model_row_id: of.model_row_id,
                litellm_id,
            }),
        }
    }
}

/// In the order operations are shown and applied: deletes first, then by model name.
pub fn sort_operations(operations: &mut [Operation]) {
    operations.sort_by(|a, b| (a.action, &a.model_name).cmp(&(b.action, &b.model_name)));
}

/// Which part of the desired state a push reconciles: what a "Sync <provider> now" or a
/// model's "Push" may change, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Provider(i64),
    Model(i64),
}

impl Scope {
    /// Whether an operation for this provider and model row is within the scope. An entry of
    /// no known provider (one nothing in the database wants) is only within "all".
    pub fn admits(self, provider_id: Option<i64>, model_row_id: Option<i64>) -> bool {
        match self {
            Self::All => true,
            Self::Provider(id) => provider_id == Some(id),
            Self::Model(id) => model_row_id == Some(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToStore {
    pub provider_id: i64,
    pub model_row_id: i64,
    pub litellm_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteIdToStore {
    pub provider_id: i64,
    pub route_target_id: i64,
    pub litellm_id: String,
}

/// Who an entry of `GET /model/info` belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    /// `db_model: false`: from LiteLLM's config file.
    Config,
    Foreign,
    /// Ours (or the Python tool's, which we adopt), with its `unique_id:` key if tagged.
    Owned {
        key: Option<String>,
    },
}

/// Whose `entry` is, seen by the installation `installation` (its `config.installation_id`).
/// Ours: our marker with our installation id, or our marker without any (pushed before ids
/// existed: adopted, and stamped by the next update), or the Python tool's (adopted). Another
/// installation's id makes it foreign, whatever else it carries.
fn owner(entry: &Value, installation: Option<&str>) -> Owner {
    let info = entry.get("model_info");
    if info.and_then(|i| i.get("db_model")).and_then(Value::as_bool) != Some(true) {
        return Owner::Config;
    }
    let tags = entry.pointer("/litellm_params/tags").and_then(Value::as_array);
    let key = tags.and_then(|tags| tags::find_unique_id(tags.iter().filter_map(Value::as_str)));
    let field = |name: &str| info.and_then(|i| i.get(name)).and_then(Value::as_str);
    if let Some(stamped) = field(MANAGED_BY_INSTALLATION)
        && Some(stamped) != installation
    {
        return Owner::Foreign;
    }
    let ours = field("managed_by") == Some(MANAGED_BY);
    let python_tool = field("created_by") == Some(PYTHON_CREATED_BY) && key.is_some();
    if ours || python_tool {
        return Owner::Owned { key };
    }
    // The Python tool's routing-group deployments carry no `unique_id:` tag: their group,
    // provider and model tags make the same key ours carry.
    let python_group = field("created_by") == Some(routing::PYTHON_GROUP_CREATED_BY);
    match tags
        .filter(|_| python_group)
        .and_then(|tags| routing::python_route_key(tags.iter().filter_map(Value::as_str)))
    {
        Some(key) => Owner::Owned { key: Some(key) },
        None => Owner::Foreign,
    }
}

/// Whether the installation `installation` may change this `GET /model/info` entry.
pub fn is_owned(entry: &Value, installation: Option<&str>) -> bool {
    matches!(owner(entry, installation), Owner::Owned { .. })
}

fn entry_id(entry: &Value) -> Option<&str> {
    entry.pointer("/model_info/id").and_then(Value::as_str)
}

/// What matching needs of one `GET /model/info` entry: its id, owner and name. A push keeps
/// only this of every entry (the entries themselves stay in the database's snapshot), so that
/// LiteLLM's list costs a few hundred bytes per entry however much LiteLLM adds to each.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySummary {
    pub id: Option<String>,
    pub model_name: String,
    owner: Owner,
}

impl EntrySummary {
    pub fn of(entry: &Value, installation: Option<&str>) -> Self {
        Self {
            id: entry_id(entry).map(str::to_owned),
            model_name: entry_name(entry),
            owner: owner(entry, installation),
        }
    }

    pub fn is_owned(&self) -> bool {
        matches!(self.owner, Owner::Owned { .. })
    }
}

/// What matching needs of one desired deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRef {
    pub model_row_id: i64,
    /// Set for a routing group's deployment, which belongs to the target, not the model row.
    pub route_target_id: Option<i64>,
    pub provider_id: i64,
    pub provider_name: String,
    pub key: String,
    pub litellm_id: String,
}

impl DeploymentRef {
    /// The model row that owns the deployment, `None` for a group deployment.
    fn model_row(&self) -> Option<i64> {
        self.route_target_id.is_none().then_some(self.model_row_id)
    }

    fn owner(&self) -> (i64, Option<i64>) {
        (self.model_row_id, self.route_target_id)
    }
}

impl From<&Deployment> for DeploymentRef {
    fn from(d: &Deployment) -> Self {
        Self {
            model_row_id: d.model_row_id,
            route_target_id: d.route_target_id,
            provider_id: d.provider_id,
            provider_name: d.provider_name.clone(),
            key: d.key.clone(),
            litellm_id: d.litellm_id.clone(),
        }
    }
}

/// Which LiteLLM entry each desired deployment becomes, and what goes: the first half of a
/// plan, computed over the whole desired state and LiteLLM's whole list. The second half
/// ([`Matching::operation`]) then runs deployment by deployment, so the deployments themselves
/// can be built and applied a batch at a time.
#[derive(Debug, Clone, Default)]
pub struct Matching {
    /// Owner (model row, route target) → index (in the `actual` given) of the entry it keeps.
    claims: HashMap<(i64, Option<i64>), usize>,
    /// The plan's start: the deletes of duplicates and of entries nothing wants (with their
    /// reasons), the ids of entries adopted by key, and the counts of entries left alone.
    pub head: Plan,
}

impl Matching {
    /// Matches `desired` with `actual` (LiteLLM's list, summarised). `excluded` names why an
    /// entry nothing wants goes.
    pub fn compute(desired: &[DeploymentRef], excluded: &[crate::desired::Excluded], actual: &[EntrySummary]) -> Self {
        let mut matching = Self::default();
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        for (index, deployment) in desired.iter().enumerate() {
            by_id.insert(deployment.litellm_id.as_str(), index);
            by_key.insert(deployment.key.as_str(), index);
        }
        let excluded_by_id: HashMap<&str, &str> =
            excluded.iter().filter_map(|e| Some((e.litellm_id.as_deref()?, e.reason.as_str()))).collect();
        let excluded_by_key: HashMap<&str, &crate::desired::Excluded> =
            excluded.iter().map(|e| (e.key.as_str(), e)).collect();

        // LiteLLM sometimes lists one row twice (same `model_info.id`): that is one entry, and
        // treating the second sighting as a duplicate would delete the only copy.
        let mut owned = Vec::new();
        let mut seen_ids = std::collections::HashSet::new();
        for (position, entry) in actual.iter().enumerate() {
            match &entry.owner {
                Owner::Config => matching.head.config_entries += 1,
                Owner::Foreign => matching.head.foreign_entries += 1,
                Owner::Owned { key } => {
                    if let Some(id) = entry.id.as_deref()
                        && seen_ids.insert(id)
                    {
                        owned.push((id, key.as_deref(), position));
                    }
                }
            }
        }

        // Desired index → entry position.
        let mut claimed: HashMap<usize, usize> = HashMap::new();
        let mut unmatched = Vec::new();
        for (id, key, position) in owned {
            match by_id.get(id) {
                Some(&index) if !claimed.contains_key(&index) => {
                    claimed.insert(index, position);
                }
                _ => unmatched.push((id, key, position)),
            }
        }
        let mut leftovers = Vec::new();
        for (id, key, position) in unmatched {
            match key.and_then(|k| by_key.get(k)) {
                Some(&index) if !claimed.contains_key(&index) => {
                    claimed.insert(index, position);
                    let deployment = &desired[index];
                    matching.head.adopted += 1;
                    matching.head.store_id(deployment, id);
                }
                Some(&index) => {
                    let deployment = &desired[index];
                    matching.head.operations.push(Operation {
                        action: Action::DeleteDuplicate,
                        litellm_id: id.to_owned(),
                        model_name: actual[position].model_name.clone(),
                        provider: Some(deployment.provider_name.clone()),
                        provider_id: Some(deployment.provider_id),
                        model_row_id: deployment.model_row(),
                        reason: format!("a second LiteLLM entry for {}", deployment.key),
                        changes: Vec::new(),
                        body: json!({"id": id}),
                        api_key: None,
                        digest: None,
                    });
                }
                None => leftovers.push((id, key, position)),
            }
        }
        for (id, key, position) in leftovers {
            let excluded = key.and_then(|k| excluded_by_key.get(k));
            let reason = excluded_by_id
                .get(id)
                .copied()
                .or(excluded.map(|e| e.reason.as_str()))
                .unwrap_or("its model or provider is no longer in litellm-updater's database");
            matching.head.operations.push(Operation {
                action: Action::Delete,
                litellm_id: id.to_owned(),
                model_name: actual[position].model_name.clone(),
                provider: excluded.map(|e| e.provider_name.clone()),
                provider_id: excluded.map(|e| e.provider_id),
                model_row_id: excluded.and_then(|e| e.model_row()),
                reason: reason.to_owned(),
                changes: Vec::new(),
                body: json!({"id": id}),
                api_key: None,
                digest: None,
            });
        }
        // Never delete an entry that is kept: whatever led here, a delete of a claimed id would
        // remove the last copy of a deployment we want.
        let kept: std::collections::HashSet<&str> =
            claimed.values().filter_map(|&position| actual[position].id.as_deref()).collect();
        matching.head.operations.retain(|op| !kept.contains(op.litellm_id.as_str()));
        sort_operations(&mut matching.head.operations);
        matching.claims = claimed.into_iter().map(|(index, position)| (desired[index].owner(), position)).collect();
        matching
    }

    /// Position (in the `actual` matched) of the entry `deployment` keeps, if any.
    pub fn claim(&self, deployment: &Deployment) -> Option<usize> {
        self.claims.get(&(deployment.model_row_id, deployment.route_target_id)).copied()
    }

    /// Adds to `plan` what brings LiteLLM to `deployment`, given the entry it keeps (`None`:
    /// there is none): a create (and its new id to store), an update, or one more unchanged.
    pub fn add_operation(plan: &mut Plan, deployment: Deployment, kept: Option<&Value>) {
        let operation = match kept {
            None => {
                if deployment.id_is_new {
                    plan.store_id(&DeploymentRef::from(&deployment), &deployment.litellm_id);
                }
                Some(create(deployment))
            }
            Some(entry) => {
                let id = entry_id(entry).unwrap_or(&deployment.litellm_id);
                update(&deployment, id, entry)
            }
        };
        match operation {
            Some(operation) => plan.operations.push(operation),
            None => plan.unchanged += 1,
        }
    }
}

/// Computes the plan in one go. `actual` is the `data` array of `GET /model/info`. The desired
/// state is consumed: its deployments become the request bodies without being copied.
pub fn compute(desired: DesiredState, actual: &[Value]) -> Plan {
    let installation = desired.installation_id.as_deref();
    let summaries: Vec<EntrySummary> = actual.iter().map(|e| EntrySummary::of(e, installation)).collect();
    let refs: Vec<DeploymentRef> = desired.deployments.iter().map(DeploymentRef::from).collect();
    let matching = Matching::compute(&refs, &desired.excluded, &summaries);
    let mut plan = matching.head.clone();
    for deployment in desired.deployments {
        let kept = matching.claim(&deployment).map(|position| &actual[position]);
        Matching::add_operation(&mut plan, deployment, kept);
    }
    plan.sort();
    plan
}

fn entry_name(entry: &Value) -> String {
    entry.get("model_name").and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The `POST /model/new` body of a deployment (without its API key).
pub(crate) fn create_body(
    model_name: &str,
    litellm_id: &str,
    litellm_params: Map<String, Value>,
    mut model_info: Map<String, Value>,
) -> Value {
    model_info.insert("id".into(), litellm_id.into());
    let mut body = Map::new();
    body.insert("model_name".into(), model_name.into());
    body.insert("litellm_params".into(), Value::Object(litellm_params));
    body.insert("model_info".into(), Value::Object(model_info));
    Value::Object(body)
}

fn create(deployment: Deployment) -> Operation {
    let model_row_id = deployment.model_row();
    let Deployment {
        litellm_id, model_name, provider_name, provider_id, key, litellm_params, model_info, api_key, ..
    } = deployment;
    let body = create_body(&model_name, &litellm_id, litellm_params, model_info);
    Operation {
        action: Action::Create,
        litellm_id,
        model_name,
        provider: Some(provider_name),
        provider_id: Some(provider_id),
        model_row_id,
        reason: format!("{key} is not in LiteLLM"),
        changes: Vec::new(),
        body,
        api_key,
        digest: None,
    }
}

/// Fields LiteLLM holds that litellm-updater set and no longer wants: `litellm_params` keys it
/// listed at the last push, and the API key when the provider no longer has one.
fn removed_fields(deployment: &Deployment, entry: &Value) -> Vec<String> {
    let mut removed: Vec<String> = entry
        .pointer(&format!("/model_info/{PARAM_KEYS}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|key| !deployment.litellm_params.contains_key(*key))
        .map(|key| format!("litellm_params.{key}"))
        .collect();
    let had_key = entry.pointer(&format!("/model_info/{KEY_FINGERPRINT}")).is_some_and(|v| !v.is_null());
    if had_key && deployment.api_key.is_none() {
        removed.push("litellm_params.api_key".into());
    }
    removed
}

/// A delete and create with the same id, for fields a PATCH cannot remove. Its changes list
/// the removed fields and every other field that differs, so the plan shows all it rewrites.
fn replace(deployment: &Deployment, id: &str, removed: Vec<String>, drifted: Vec<Change>) -> Operation {
    let mut changes: Vec<Change> =
        removed.iter().map(|field| Change { field: field.clone(), from: "(set)".into(), to: Value::Null }).collect();
    changes.extend(drifted.into_iter().filter(|c| !removed.contains(&c.field)));
    Operation {
        action: Action::Replace,
        litellm_id: id.to_owned(),
        model_name: deployment.model_name.clone(),
        provider: Some(deployment.provider_name.clone()),
        provider_id: Some(deployment.provider_id),
        model_row_id: deployment.model_row(),
        reason: format!("no longer set: {} (recreated with the same id)", removed.join(", ")),
        changes,
        body: create_body(&deployment.model_name, id, deployment.litellm_params.clone(), deployment.model_info.clone()),
        api_key: deployment.api_key.clone(),
        digest: None,
    }
}

/// The partial update that brings `entry` to `deployment`, or `None` if they already agree.
/// Only keys litellm-updater sets are compared: LiteLLM adds many of its own.
fn update(deployment: &Deployment, id: &str, entry: &Value) -> Option<Operation> {
    let removed = removed_fields(deployment, entry);
    let mut changes = Vec::new();
    let mut patch = Map::new();
    if entry.get("model_name").and_then(Value::as_str) != Some(deployment.model_name.as_str()) {
        changes.push(Change {
            field: "model_name".into(),
            from: entry.get("model_name").cloned().unwrap_or(Value::Null),
            to: deployment.model_name.clone().into(),
        });
        patch.insert("model_name".into(), deployment.model_name.clone().into());
    }
    let params_patch = diff_section("litellm_params", &deployment.litellm_params, entry, &mut changes);
    let info_patch = diff_section("model_info", &deployment.model_info, entry, &mut changes);
    // LiteLLM never shows keys: a changed fingerprint is how a new key shows up, and the
    // change is listed without either value (the placeholder, being no secret, by name).
    let send_key = info_patch.contains_key(KEY_FINGERPRINT) && deployment.api_key.is_some();
    for change in changes.iter_mut().filter(|c| c.field.ends_with(KEY_FINGERPRINT)) {
        let to = deployment.api_key.as_ref().map_or("(none)", DeploymentKey::shown);
        *change = Change {
            field: "litellm_params.api_key".into(),
            from: DeploymentKey::shown_fingerprint(&change.from).into(),
            to: to.into(),
        };
    }
    if !removed.is_empty() {
        return Some(replace(deployment, id, removed, changes));
    }
    if changes.is_empty() {
        return None;
    }
    if !params_patch.is_empty() || send_key {
        patch.insert("litellm_params".into(), Value::Object(params_patch));
    }
    if !info_patch.is_empty() {
        patch.insert("model_info".into(), Value::Object(info_patch));
    }
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    let mut reason = format!("drifted: {}", fields.join(", "));
    if send_key && deployment.api_key.as_ref().is_some_and(DeploymentKey::is_placeholder) {
        reason.push_str(" (the upstream has no key; LiteLLM needs the placeholder no-key to call it)");
    }
    Some(Operation {
        action: Action::Update,
        litellm_id: id.to_owned(),
        model_name: deployment.model_name.clone(),
        provider: Some(deployment.provider_name.clone()),
        provider_id: Some(deployment.provider_id),
        model_row_id: deployment.model_row(),
        reason,
        changes,
        body: Value::Object(patch),
        api_key: deployment.api_key.clone().filter(|_| send_key),
        digest: None,
    })
}

fn diff_section(
    section: &str,
    wanted: &Map<String, Value>,
    entry: &Value,
    changes: &mut Vec<Change>,
) -> Map<String, Value> {
    let actual = entry.get(section).and_then(Value::as_object);
    let mut patch = Map::new();
    for (key, value) in wanted {
        let current = actual.and_then(|a| a.get(key)).unwrap_or(&Value::Null);
        if !same(value, current) {
            changes.push(Change { field: format!("{section}.{key}"), from: current.clone(), to: value.clone() });
            patch.insert(key.clone(), value.clone());
        }
    }
    patch
}

/// JSON equality where `128000` equals `128000.0` (LiteLLM returns some integers as floats).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
